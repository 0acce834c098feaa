"""check: parse the event, read the live state, decide the verdict and the mode, take the data source's lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cmk_guard.adapters.bedrock import data_source_facts, knowledge_base_facts
from cmk_guard.core.events import parse_event
from cmk_guard.core.models import Evaluation, KnowledgeBaseFacts, Mode, Reason, Target, Verdict
from cmk_guard.core.modes import EXEMPT_REASON_TAG, resolve_mode
from cmk_guard.core.verdict import evaluate, key_region, skipped, unknown
from cmk_guard.errors import AccessDeniedError, CmkGuardError, ResourceGoneError

if TYPE_CHECKING:
    from collections.abc import Callable

    from cmk_guard.adapters.bedrock import BedrockAgent
    from cmk_guard.adapters.kms import Kms
    from cmk_guard.adapters.ledger import Ledger
    from cmk_guard.config import Settings

LOCKING_MODES = frozenset({Mode.AUTO, Mode.APPROVAL})


@dataclass(frozen=True)
class CheckPorts:
    bedrock: Callable[[str], BedrockAgent]
    kms: Callable[[str], Kms]
    ledger: Ledger


def _read_tags(bedrock: BedrockAgent, arn: str) -> dict[str, str] | None:
    try:
        return bedrock.list_tags(arn)
    except CmkGuardError:
        return None


def _assess(target: Target, settings: Settings, ports: CheckPorts) -> tuple[Evaluation, KnowledgeBaseFacts | None, Any]:
    bedrock = ports.bedrock(target.region)
    try:
        raw_kb = bedrock.get_knowledge_base(target.knowledge_base_id)
    except AccessDeniedError as exc:
        return unknown(str(exc)), None, None
    except ResourceGoneError:
        return skipped(Reason.DATA_SOURCE_NOT_FOUND, f"knowledge base {target.knowledge_base_id} no longer exists"), None, None
    tags = _read_tags(bedrock, raw_kb["knowledgeBaseArn"])
    kb = knowledge_base_facts(raw_kb, tags)
    decision = resolve_mode(settings.mode, tags)
    try:
        ds = data_source_facts(bedrock.get_data_source(target.knowledge_base_id, target.data_source_id))
    except AccessDeniedError as exc:
        return unknown(str(exc)), kb, decision
    except ResourceGoneError:
        return skipped(Reason.DATA_SOURCE_NOT_FOUND, f"data source {target.data_source_id} no longer exists"), kb, decision
    key = None
    if ds.kms_key_arn:
        try:
            key = ports.kms(key_region(ds.kms_key_arn) or target.region).describe_key(ds.kms_key_arn)
        except AccessDeniedError as exc:
            return unknown(f"cannot describe the data source's key: {exc}", ds.kms_key_arn), kb, decision
    exempt_reason = (tags or {}).get(EXEMPT_REASON_TAG)
    return evaluate(target.region, kb, ds, key, decision.mode, exempt_reason), kb, decision


def run_check(event: dict[str, Any], execution_arn: str, settings: Settings, ports: CheckPorts) -> dict[str, Any]:
    """The check step. Returns ``{"duplicate": true}`` for an event another execution already handles."""
    parsed = parse_event(event)
    if not ports.ledger.claim_event(parsed.event_id, execution_arn):
        return {"duplicate": True, "eventId": parsed.event_id}
    data_source_id = parsed.data_source_id
    if data_source_id is None:
        data_source_id = ports.bedrock(parsed.region).find_data_source_id(
            parsed.knowledge_base_id, parsed.data_source_name or ""
        )
        if data_source_id is None:
            raise ResourceGoneError(
                f"no data source named {parsed.data_source_name!r} in knowledge base {parsed.knowledge_base_id}"
            )
    target = Target(
        account_id=parsed.account_id,
        region=parsed.region,
        knowledge_base_id=parsed.knowledge_base_id,
        data_source_id=data_source_id,
        event_id=parsed.event_id,
        event_name=parsed.event_name,
        event_time=parsed.event_time,
    )
    evaluation, kb, decision = _assess(target, settings, ports)
    mode = decision.mode if decision else Mode.APPROVAL
    if evaluation.verdict is Verdict.NON_COMPLIANT and mode in LOCKING_MODES:
        # In approval mode the workflow may wait for a person first: the lock outlives that wait too.
        ttl = settings.lock_ttl_seconds + (settings.approval_timeout_seconds if mode is Mode.APPROVAL else 0)
        if not ports.ledger.acquire_lock(target, execution_arn, ttl):
            holder = ports.ledger.lock_holder(target)
            evaluation = skipped(Reason.REMEDIATION_IN_PROGRESS, f"another remediation holds the lock: {holder}")
    check: dict[str, Any] = {
        **evaluation.to_state(),
        "mode": mode.value,
        "modeSource": decision.source if decision else "fail-closed",
        "lockHeld": evaluation.verdict is Verdict.NON_COMPLIANT and mode in LOCKING_MODES,
    }
    if decision and decision.note:
        check["modeNote"] = decision.note
    if kb is not None:
        check["knowledgeBase"] = kb.to_state()
    return {"duplicate": False, "target": target.to_state(), "check": check}
