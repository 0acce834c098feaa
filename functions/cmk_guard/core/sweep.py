"""The sweep's vocabulary and arithmetic: findings, per-verdict counts, the compliance ratio, the state passed
between the sweep's states, and the metrics. Pure.

The compliance ratio is ``COMPLIANT / (COMPLIANT + NON_COMPLIANT + UNKNOWN)``: ``SKIPPED`` data sources (exempt,
managed, deleting, no transient-data key) are not evaluated, and ``UNKNOWN`` (could not be read) counts as
evaluated and not compliant, so what cannot be read never raises the ratio.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from pydantic import Field

from cmk_guard.core import metrics
from cmk_guard.core.events import SWEEP_ID_PATTERN
from cmk_guard.core.models import Mode, Outcome, Reason, StepModel, Verdict
from cmk_guard.core.report import MetricPoint

# At most this many knowledge base ids are kept by name in the sweep's state when their sweep failed.
MAX_LISTED_FAILURES = 50
# An evaluation takes no further data source once less than this is left of its function's timeout (150 s): one data
# source's reads (GetDataSource, DescribeKey) finish within it even when all six SDK attempts of each are throttled
# (at most 31 s of backoff per call); the rest of the page resumes in the next invocation.
STOP_MARGIN_MILLIS = 70_000


class SweepCounts(StepModel):
    """Data sources per verdict, and what the sweep did about the non-compliant ones."""

    compliant: int = 0
    non_compliant: int = 0
    skipped: int = 0
    unknown: int = 0
    started: int = 0  # remediate workflows started
    in_progress: int = 0  # not started: another remediation of the data source holds its lock
    already_notified: int = 0  # not started: notify mode, and this finding was already notified
    knowledge_bases: int = 0
    failed_knowledge_bases: int = 0  # knowledge bases whose sweep still failed after the retries

    def __add__(self, other: SweepCounts) -> SweepCounts:
        return SweepCounts(**{name: getattr(self, name) + getattr(other, name) for name in SweepCounts.model_fields})

    def plus(self, **increments: int) -> SweepCounts:
        return SweepCounts(**{name: getattr(self, name) + increments.get(name, 0) for name in SweepCounts.model_fields})

    def with_verdict(self, verdict: Verdict) -> SweepCounts:
        return self.plus(**{_VERDICT_FIELDS[verdict]: 1})

    @property
    def evaluated(self) -> int:
        return self.compliant + self.non_compliant + self.unknown

    @property
    def compliance_ratio(self) -> float | None:
        """``None`` when nothing was evaluated (the ratio is undefined, not 100 %)."""
        return self.compliant / self.evaluated if self.evaluated else None


_VERDICT_FIELDS = {
    Verdict.COMPLIANT: "compliant",
    Verdict.NON_COMPLIANT: "non_compliant",
    Verdict.SKIPPED: "skipped",
    Verdict.UNKNOWN: "unknown",
}


class SweepFinding(StepModel):
    """One row of the sweep (and of ``cmk-guard scan``). ``data_source_id`` is absent when the knowledge base's
    data sources could not even be listed: that row stands for all of them, as one ``UNKNOWN``."""

    region: str
    knowledge_base_id: str
    knowledge_base_name: str | None = None
    data_source_id: str | None = None
    data_source_name: str | None = None
    data_source_type: str | None = None
    verdict: Verdict
    reason: Reason
    detail: str
    key_arn: str | None = None
    mode: Mode | None = None


def tally(findings: list[SweepFinding], counts: SweepCounts | None = None) -> SweepCounts:
    total = counts or SweepCounts()
    for finding in findings:
        total = total.with_verdict(finding.verdict)
    return total


class SweepContext(StepModel):
    """Which sweep this is, and the account and region it covers."""

    sweep_id: str = Field(pattern=SWEEP_ID_PATTERN)
    account_id: str = Field(pattern=r"^\d{12}$")
    region: str


class Cursor(StepModel):
    """Where the next evaluation of a knowledge base resumes: a ListDataSources page, minus what was done of it."""

    page_token: str | None = None
    skip: int = Field(default=0, ge=0)


class Pending(StepModel):
    """A non-compliant data source waiting for its remediate workflow."""

    data_source_id: str
    reason: Reason
    mode: Mode
    current_key_arn: str | None = None
    observed_at: datetime


class KnowledgeBaseSweep(StepModel):
    """The state of one knowledge base's iteration of the sweep's Map."""

    knowledge_base_id: str
    sweep: SweepContext
    counts: SweepCounts = Field(default_factory=SweepCounts)
    cursor: Cursor | None = None
    more: bool = False
    pending: list[Pending] = Field(default_factory=list)
    start_needed: bool = False  # pending is not empty (what the state machine's Choice reads)


class KnowledgeBaseResult(StepModel):
    """What one iteration of the Map hands back: its counts, and the error when it failed after the retries.

    ``stage`` says where it failed: during ``evaluate`` some data sources were not evaluated (the knowledge base
    then counts one ``UNKNOWN`` for them); during ``start`` all were evaluated but some workflows not started.
    """

    knowledge_base_id: str
    counts: SweepCounts = Field(default_factory=SweepCounts)
    error: dict[str, str] | None = None
    stage: str | None = None


class SweepProgress(StepModel):
    """The sweep's own state between its pages of knowledge bases (bounded: one page at a time)."""

    sweep: SweepContext | None = None
    totals: SweepCounts = Field(default_factory=SweepCounts)
    pages: int = 0
    next_token: str | None = None
    knowledge_base_ids: list[str] = Field(default_factory=list)
    results: list[KnowledgeBaseResult] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    finished: bool = False


def add_results(progress: SweepProgress) -> SweepProgress:
    """Fold a page's Map results into the totals (and drop them from the state)."""
    totals, failed = progress.totals, list(progress.failed)
    for result in progress.results:
        totals = totals + result.counts
        totals = totals.plus(knowledge_bases=1)
        if result.error is not None:
            totals = totals.plus(failed_knowledge_bases=1, unknown=1 if result.stage == "evaluate" else 0)
            if len(failed) < MAX_LISTED_FAILURES:
                failed.append(result.knowledge_base_id)
    return progress.model_copy(update={"totals": totals, "failed": failed, "results": []})


_SAFE_NAME = re.compile(SWEEP_ID_PATTERN)


def sweep_id_for(execution_arn: str) -> str:
    """The sweep's id: its execution name when that fits ``[0-9A-Za-z_-]{1,40}`` (EventBridge names executions
    with a UUID), else a digest of the execution ARN."""
    name = execution_arn.rsplit(":", 1)[-1]
    if _SAFE_NAME.fullmatch(name):
        return name
    return hashlib.sha256(execution_arn.encode()).hexdigest()[:24]


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """The ARN an execution named ``name`` of a standard state machine gets."""
    prefix, _, machine = state_machine_arn.partition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def context_from_execution(execution_arn: str) -> SweepContext:
    """Account and region of the sweep from its execution ARN (``arn:aws:states:<region>:<account>:execution:..``)."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[2] != "states":
        raise ValueError(f"not a Step Functions execution ARN: {execution_arn!r}")
    return SweepContext(sweep_id=sweep_id_for(execution_arn), account_id=parts[4], region=parts[3])


def already_notified(latest_outcome: dict | None, pending: Pending) -> bool:
    """Notify mode reports a finding once: skip it when the data source's latest outcome already notified the same
    reason with the same key. A different finding, or any other outcome, is reported again."""
    if pending.mode is not Mode.NOTIFY or not latest_outcome:
        return False
    check = latest_outcome.get("check") or {}
    return (
        latest_outcome.get("outcome") == Outcome.NOTIFIED.value
        and check.get("reason") == pending.reason.value
        and check.get("currentKeyArn") == pending.current_key_arn
    )


def metric_points(totals: SweepCounts) -> list[MetricPoint]:
    """The sweep's metrics: no dimension but the service's own. No ratio when nothing was evaluated."""
    points = [
        MetricPoint(metrics.COMPLIANT_DATA_SOURCES, totals.compliant, "Count"),
        MetricPoint(metrics.NON_COMPLIANT_DATA_SOURCES, totals.non_compliant, "Count"),
        MetricPoint(metrics.SKIPPED_DATA_SOURCES, totals.skipped, "Count"),
        MetricPoint(metrics.UNKNOWN_DATA_SOURCES, totals.unknown, "Count"),
        MetricPoint(metrics.SWEEP_REMEDIATIONS_STARTED, totals.started, "Count"),
        MetricPoint(metrics.SWEEP_FAILED_KNOWLEDGE_BASES, totals.failed_knowledge_bases, "Count"),
    ]
    ratio = totals.compliance_ratio
    if ratio is not None:
        points.append(MetricPoint(metrics.COMPLIANCE_RATIO, ratio, "None"))
    return points
