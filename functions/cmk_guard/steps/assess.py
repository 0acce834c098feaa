"""assess: read one data source, its knowledge base, tags and key, and decide the verdict and the mode.

Read-only. The check step, the sweep and ``cmk-guard scan`` all decide through these functions, so their verdicts
cannot drift apart. The knowledge base is read once (``read_knowledge_base``) and reused for each of its data
sources (``assess_data_source``); ``assess`` does both for a single data source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cmk_guard.adapters.bedrock import data_source_facts, knowledge_base_facts
from cmk_guard.concurrency import at_once
from cmk_guard.core.modes import EXEMPT_REASON_TAG, ModeDecision, resolve_mode
from cmk_guard.core.models import DataSourceFacts, Evaluation, KnowledgeBaseFacts, Mode, Reason
from cmk_guard.core.verdict import evaluate, key_region, skipped, unknown
from cmk_guard.errors import AccessDeniedError, CmkGuardError, ResourceGoneError

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

    from cmk_guard.adapters.bedrock import BedrockAgent
    from cmk_guard.adapters.kms import Kms


class AssessPorts(Protocol):
    """Adapter factories per region (``CheckPorts`` is one)."""

    @property
    def bedrock(self) -> Callable[[str], BedrockAgent]: ...

    @property
    def kms(self) -> Callable[[str], Kms]: ...


@dataclass(frozen=True)
class DataSourceRef:
    region: str
    knowledge_base_id: str
    data_source_id: str
    account_id: str | None = None  # when known, the knowledge base's tags are read at once with the knowledge base

    def knowledge_base_arn(self) -> str | None:
        if self.account_id is None:
            return None
        partition = "aws-cn" if self.region.startswith("cn-") else "aws-us-gov" if self.region.startswith("us-gov-") else "aws"
        return f"arn:{partition}:bedrock:{self.region}:{self.account_id}:knowledge-base/{self.knowledge_base_id}"


@dataclass(frozen=True)
class KnowledgeBaseView:
    """What was read about a knowledge base. ``failure`` is the verdict every data source gets when the knowledge
    base itself could not be read (``UNKNOWN``) or is gone (``SKIPPED``)."""

    knowledge_base_id: str
    facts: KnowledgeBaseFacts | None = None
    decision: ModeDecision | None = None
    failure: Evaluation | None = None


@dataclass(frozen=True)
class Assessment:
    evaluation: Evaluation
    knowledge_base: KnowledgeBaseFacts | None
    decision: ModeDecision | None
    data_source: DataSourceFacts | None = None
    # The GetDataSource answer as read, so the check can tell before any write whether the update could carry it over.
    raw_data_source: dict[str, Any] | None = None

    @property
    def mode(self) -> Mode:
        """The mode that applies; fails closed to ``approval`` when it could not be decided."""
        return self.decision.mode if self.decision else Mode.APPROVAL


def _read_tags(bedrock: BedrockAgent, arn: str) -> dict[str, str] | None:
    try:
        return bedrock.list_tags(arn)
    except CmkGuardError:
        return None


def read_knowledge_base(
    bedrock: BedrockAgent, knowledge_base_id: str, default_mode: Mode, expected_arn: str | None = None
) -> KnowledgeBaseView:
    """GetKnowledgeBase and its tags. Throttling beyond the SDK's retries propagates (``TransientError``).

    With ``expected_arn`` the tags are read at the same time as the knowledge base; if the ARN it reports differs,
    they are read again from the reported one."""
    reads = at_once(lambda: bedrock.get_knowledge_base(knowledge_base_id),
                    *([lambda: _read_tags(bedrock, expected_arn)] if expected_arn else []))
    try:
        raw = reads[0].result()
    except AccessDeniedError as exc:
        return KnowledgeBaseView(knowledge_base_id, failure=unknown(str(exc)))
    except ResourceGoneError:
        gone = skipped(Reason.DATA_SOURCE_NOT_FOUND, f"knowledge base {knowledge_base_id} no longer exists")
        return KnowledgeBaseView(knowledge_base_id, failure=gone)
    if expected_arn and raw["knowledgeBaseArn"] == expected_arn:
        tags = reads[1].result()
    else:
        tags = _read_tags(bedrock, raw["knowledgeBaseArn"])
    return KnowledgeBaseView(knowledge_base_id, knowledge_base_facts(raw, tags), resolve_mode(default_mode, tags))


def assess_data_source(
    view: KnowledgeBaseView,
    region: str,
    data_source_id: str,
    bedrock: BedrockAgent,
    kms: Callable[[str], Kms],
    prefetched: Future[dict[str, Any]] | None = None,
) -> Assessment:
    """GetDataSource (or its ``prefetched`` answer) and DescribeKey of its key, then the verdict. Nothing is
    written. When the knowledge base could not be read, its failure is the verdict, whatever the data source read."""
    kb, decision = view.facts, view.decision
    if view.failure is not None or kb is None or decision is None:
        return Assessment(view.failure or unknown("knowledge base not read"), kb, decision)
    try:
        raw = prefetched.result() if prefetched else bedrock.get_data_source(view.knowledge_base_id, data_source_id)
        ds = data_source_facts(raw)
    except AccessDeniedError as exc:
        return Assessment(unknown(str(exc)), kb, decision)
    except ResourceGoneError:
        gone = skipped(Reason.DATA_SOURCE_NOT_FOUND, f"data source {data_source_id} no longer exists")
        return Assessment(gone, kb, decision)
    key = None
    if ds.kms_key_arn:
        try:
            key = kms(key_region(ds.kms_key_arn) or region).describe_key(ds.kms_key_arn)
        except AccessDeniedError as exc:
            unreadable = unknown(f"cannot describe the data source's key: {exc}", ds.kms_key_arn)
            return Assessment(unreadable, kb, decision, ds, raw)
    exempt_reason = kb.tags.get(EXEMPT_REASON_TAG)
    return Assessment(evaluate(region, kb, ds, key, decision.mode, exempt_reason), kb, decision, ds, raw)


def assess(ref: DataSourceRef, default_mode: Mode, ports: AssessPorts) -> Assessment:
    """The verdict and mode of one data source, as the check step, the sweep and the CLI decide it."""
    bedrock = ports.bedrock(ref.region)
    # The knowledge base, its tags and the data source are independent reads: made at once.
    kb_read, ds_read = at_once(
        lambda: read_knowledge_base(bedrock, ref.knowledge_base_id, default_mode, ref.knowledge_base_arn()),
        lambda: bedrock.get_data_source(ref.knowledge_base_id, ref.data_source_id),
    )
    return assess_data_source(kb_read.result(), ref.region, ref.data_source_id, bedrock, ports.kms, ds_read)
