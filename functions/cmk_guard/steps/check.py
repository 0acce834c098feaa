"""check: parse the event, read the live state, decide the verdict and the mode, take the data source's lock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cmk_guard.concurrency import at_once
from cmk_guard.core.events import parse_event
from cmk_guard.core.models import Mode, Reason, Target, Verdict
from cmk_guard.core.update_plan import plan_update
from cmk_guard.core.verdict import skipped
from cmk_guard.errors import ResourceGoneError, UnsafeUpdateError
from cmk_guard.steps.assess import Assessment, DataSourceRef, assess

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


def _unsafe_update(raw_data_source: dict[str, Any] | None) -> str | None:
    """Why the update could not carry this data source over unchanged, found before anything is written."""
    if raw_data_source is None:
        return None
    try:
        plan_update(raw_data_source, "arn:aws:kms:us-east-1:000000000000:key/plan-check")
    except UnsafeUpdateError as exc:
        return str(exc)
    return None


def _account_of(execution_arn: str) -> str | None:
    """The stack's own account: the fifth field of its execution ARN (``None`` if the ARN has no account)."""
    parts = execution_arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


def run_check(event: dict[str, Any], execution_arn: str, settings: Settings, ports: CheckPorts) -> dict[str, Any]:
    """The check step. Returns ``{"duplicate": true}`` for an event another execution already handles."""
    parsed = parse_event(
        event,
        size_hint=len(json.dumps(event, default=str)),
        # One account and region unless the stack serves an organization (then events come from member accounts).
        home_account=None if settings.organization_id else _account_of(execution_arn),
        home_region=None if settings.organization_id else settings.region,
    )

    def claimed() -> bool:
        return ports.ledger.claim_event(parsed.event_id, execution_arn)

    def assessed(target: Target) -> Assessment:
        ref = DataSourceRef(target.region, target.knowledge_base_id, target.data_source_id, target.account_id)
        return assess(ref, settings.mode, ports)

    duplicate = {"duplicate": True, "eventId": parsed.event_id}
    if parsed.data_source_id is not None:
        # The claim and the reads are independent, so they are made at once (a duplicate's reads are wasted).
        target = parsed.target(parsed.data_source_id)
        claim, reads = at_once(claimed, lambda: assessed(target))
        if not claim.result():
            return duplicate
        assessment = reads.result()
    else:
        if not claimed():
            return duplicate
        data_source_id = ports.bedrock(parsed.region).find_data_source_id(
            parsed.knowledge_base_id, parsed.data_source_name or ""
        )
        if data_source_id is None:
            raise ResourceGoneError(
                f"no data source named {parsed.data_source_name!r} in knowledge base {parsed.knowledge_base_id}"
            )
        target = parsed.target(data_source_id)
        assessment = assessed(target)
    evaluation, kb, decision = assessment.evaluation, assessment.knowledge_base, assessment.decision
    raw_ds = assessment.raw_data_source
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
    result: dict[str, Any] = {"duplicate": False, "target": target.to_state(), "check": check}
    unsafe = _unsafe_update(raw_ds) if evaluation.verdict is Verdict.NON_COMPLIANT and mode in LOCKING_MODES else None
    if unsafe:  # stop before a key is created: the update could not be made without losing something
        result["error"] = {"Error": "UnsafeUpdateError", "Cause": unsafe}
    return result
