"""What a finished workflow reports: metric points and the notification text. Pure functions of the state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cmk_guard.core.approval import summary as approval_summary
from cmk_guard.core import metrics
from cmk_guard.core.metrics import NAMESPACE, spec
from cmk_guard.core.models import Outcome
from cmk_guard.core.proposal import describe

__all__ = ["NAMESPACE", "SILENT_OUTCOMES", "MetricPoint", "approval_requested_point", "metric_points", "notification"]

SILENT_OUTCOMES = frozenset({Outcome.ALREADY_COMPLIANT})


@dataclass(frozen=True)
class MetricPoint:
    """One metric value; only catalogued metrics (``core.metrics``) with their own unit and dimensions exist."""

    name: str
    value: float
    unit: str
    dimensions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        entry = spec(self.name)
        if self.unit != entry.unit:
            raise ValueError(f"{self.name} is measured in {entry.unit}, not {self.unit}")
        if tuple(name for name, _ in self.dimensions) != entry.dimensions:
            raise ValueError(f"{self.name} has the dimensions {entry.dimensions}, not {self.dimensions}")
        for name, value in self.dimensions:
            if value not in entry.allowed_values(name):
                raise ValueError(f"{self.name}: {value!r} is not a {name} cmk-guard emits")


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _seconds_between(start: str | None, end: str | None) -> float | None:
    begin, finish = _time(start), _time(end)
    if begin is None or finish is None:
        return None
    return max(0.0, (finish - begin).total_seconds())


def metric_points(state: dict[str, Any], outcome: Outcome) -> list[MetricPoint]:
    """Few, bounded dimensions (``Outcome``, ``Source``). Times run from the triggering CloudTrail ``eventTime``,
    never from the start of the workflow, so a late or redelivered event still measures the real time to fix."""
    points = [MetricPoint(metrics.REMEDIATIONS, 1, "Count", (("Outcome", outcome.value),))]
    check = state.get("check") or {}
    if check.get("verdict") == "NON_COMPLIANT":
        points.append(MetricPoint(metrics.NON_COMPLIANT_DETECTED, 1, "Count"))
    event_time = (state.get("target") or {}).get("eventTime")
    apply = state.get("apply") or {}
    if apply.get("applied"):
        remediate = _seconds_between(event_time, apply.get("appliedAt"))
        if remediate is not None:
            points.append(MetricPoint(metrics.TIME_TO_REMEDIATE, remediate, "Seconds"))
    verification = state.get("verification") or {}
    if verification.get("found"):
        verify = _seconds_between(event_time, verification.get("foundAt"))
        if verify is not None:
            points.append(MetricPoint(metrics.TIME_TO_VERIFY, verify, "Seconds"))
    approval = state.get("approval") or {}
    wait = _seconds_between(approval.get("requestedAt"), approval.get("decidedAt"))
    if wait is not None:
        points.append(MetricPoint(metrics.APPROVAL_WAIT, wait, "Seconds"))
    # The confirming ingestion failed on the key. Refused KMS calls the confirmation step saw in CloudTrail
    # (verification.accessDenied, kept in the ledger) are not counted here: the denials function counts every
    # CloudTrail access error on cmk-guard's keys, and counting them twice would inflate the metric.
    if (state.get("ingestion") or {}).get("kmsFailure"):
        points.append(MetricPoint(metrics.KMS_ACCESS_DENIED, 1, "Count", (("Source", metrics.SOURCE_INGESTION),)))
    return points


def approval_requested_point() -> MetricPoint:
    """What the approval step emits when it sends a request (``ApprovalWaitSeconds`` counts the decisions)."""
    return MetricPoint(metrics.APPROVALS_REQUESTED, 1, "Count")


def _line(label: str, value: Any) -> str | None:
    return f"{label:<18}{value}" if value not in (None, "", [], {}) else None


def notification(state: dict[str, Any], outcome: Outcome, reason: str | None, execution_arn: str) -> tuple[str, str]:
    """Subject and plain-text body of the ops notification."""
    target = state.get("target") or {}
    check = state.get("check") or {}
    kb = check.get("knowledgeBase") or {}
    key = state.get("key") or {}
    apply = state.get("apply") or {}
    ingestion = state.get("ingestion") or {}
    verification = state.get("verification") or {}
    where = f"{target.get('knowledgeBaseId', '?')}/{target.get('dataSourceId', '?')}"
    subject = f"cmk-guard {outcome.value}: {where}"
    key_text = None
    if key.get("keyArn"):
        how = "created" if key.get("created") else "reused"
        key_text = f"{key['keyArn']} ({key.get('alias', 'configured key')}, {how}; used by {', '.join(key.get('keyUsers', []))})"
    found = verification.get("events") or []
    lines = [
        f"cmk-guard outcome: {outcome.value}",
        _line("Reason:", reason),
        _line("Account/region:", f"{target.get('accountId', '?')} / {target.get('region', '?')}" if target else None),
        _line("Knowledge base:", f"{kb.get('name')} ({kb.get('knowledgeBaseId')})" if kb else target.get("knowledgeBaseId")),
        _line("Data source:", target.get("dataSourceId")),
        _line("Trigger:", f"{target.get('eventName')} at {target.get('eventTime')} (event {target.get('eventId')})" if target else None),
        _line("Verdict:", f"{check.get('verdict')} ({check.get('reason')}): {check.get('detail')}" if check.get("verdict") else None),
        _line("Mode:", f"{check.get('mode')} ({check.get('modeSource')})" if check.get("mode") else None),
        _line("Approval:", approval_summary(state["approval"]) if state.get("approval") else None),
        _line("Key:", key_text),
        _line("Update:", f"applied at {apply.get('appliedAt')}; changed only {', '.join(apply.get('changedFields') or []) or 'nothing'}" if apply.get("applied") else None),
        _line("Ingestion:", f"job {ingestion.get('jobId')} {ingestion.get('status')}" if ingestion.get("jobId") else None),
        _line("Key repair:", (state.get("repair") or {}).get("cause")),
        _line("Verification:", f"{len(found)} KMS event(s): " + ", ".join(f"{e['eventName']} at {e['eventTime']}" for e in found) if found else ("no KMS event found before the deadline" if verification else None)),
        _line("Execution:", execution_arn),
    ]
    if outcome is Outcome.NOTIFIED and state.get("proposal"):
        # notify mode: the same description the approval e-mail carries, without a link.
        lines += ["", *describe(state, would=True)]
    return subject, "\n".join(line for line in lines if line is not None) + "\n"
