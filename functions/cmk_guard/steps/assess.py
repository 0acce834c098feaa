"""assess: read one data source, its knowledge base, tags and key, and decide the verdict and the mode.

Read-only. The check step, the sweep and ``cmk-guard scan`` all decide through these functions, so their verdicts
cannot drift apart. The knowledge base is read once (``read_knowledge_base``) and reused for each of its data
sources (``assess_data_source``); ``assess`` does both for a single data source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cmk_guard.adapters.bedrock import data_source_facts, knowledge_base_facts
from cmk_guard.core.modes import EXEMPT_REASON_TAG, ModeDecision, resolve_mode
from cmk_guard.core.models import DataSourceFacts, Evaluation, KnowledgeBaseFacts, Mode, Reason
from cmk_guard.core.verdict import evaluate, key_region, skipped, unknown
from cmk_guard.errors import AccessDeniedError, CmkGuardError, ResourceGoneError

if TYPE_CHECKING:
    from collections.abc import Callable

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


def read_knowledge_base(bedrock: BedrockAgent, knowledge_base_id: str, default_mode: Mode) -> KnowledgeBaseView:
    """GetKnowledgeBase and its tags. Throttling beyond the SDK's retries propagates (``TransientError``)."""
    try:
        raw = bedrock.get_knowledge_base(knowledge_base_id)
    except AccessDeniedError as exc:
        return KnowledgeBaseView(knowledge_base_id, failure=unknown(str(exc)))
    except ResourceGoneError:
        gone = skipped(Reason.DATA_SOURCE_NOT_FOUND, f"knowledge base {knowledge_base_id} no longer exists")
        return KnowledgeBaseView(knowledge_base_id, failure=gone)
    tags = _read_tags(bedrock, raw["knowledgeBaseArn"])
    return KnowledgeBaseView(knowledge_base_id, knowledge_base_facts(raw, tags), resolve_mode(default_mode, tags))


def assess_data_source(
    view: KnowledgeBaseView, region: str, data_source_id: str, bedrock: BedrockAgent, kms: Callable[[str], Kms]
) -> Assessment:
    """GetDataSource and DescribeKey of its key, then the verdict. Nothing is written."""
    kb, decision = view.facts, view.decision
    if view.failure is not None or kb is None or decision is None:
        return Assessment(view.failure or unknown("knowledge base not read"), kb, decision)
    try:
        raw = bedrock.get_data_source(view.knowledge_base_id, data_source_id)
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
    view = read_knowledge_base(bedrock, ref.knowledge_base_id, default_mode)
    return assess_data_source(view, ref.region, ref.data_source_id, bedrock, ports.kms)
