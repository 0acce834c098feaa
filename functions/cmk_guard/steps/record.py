"""record: one outcome per workflow, in the ledger, as metrics and as a notification; then release the lock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cmk_guard.adapters.ledger import data_source_key
from cmk_guard.core.models import Target
from cmk_guard.core.outcome import decide_outcome, outcome_reason
from cmk_guard.core.report import SILENT_OUTCOMES, MetricPoint, metric_points, notification

if TYPE_CHECKING:
    from cmk_guard.adapters.ledger import Ledger
    from cmk_guard.adapters.notifier import Notifier


def _ledger_partition(state: dict[str, Any], execution_arn: str) -> tuple[str, Target | None]:
    raw = state.get("target")
    if raw:
        target = Target.model_validate(raw)
        return data_source_key(target), target
    return f"INVALID#{execution_arn.rsplit(':', 1)[-1]}", None


def run_record(
    state: dict[str, Any], execution_arn: str, ledger: Ledger, notifier: Notifier
) -> tuple[dict[str, Any], list[MetricPoint]]:
    outcome = decide_outcome(state)
    reason = outcome_reason(state, outcome)
    partition, target = _ledger_partition(state, execution_arn)
    record = {
        "outcome": outcome.value,
        "reason": reason,
        "recordedAt": datetime.now(UTC).isoformat(),
        "executionArn": execution_arn,
        **{k: state[k] for k in ("target", "check", "proposal", "key", "apply", "ingestion", "verification", "verificationError", "approval") if k in state},
    }
    ledger.put_outcome(partition, execution_arn, record)
    message_id = None
    if outcome not in SILENT_OUTCOMES:
        subject, body = notification(state, outcome, reason, execution_arn)
        message_id = notifier.publish(subject, body, {"outcome": outcome.value})
    if target is not None and (state.get("check") or {}).get("lockHeld"):
        ledger.release_lock(target, execution_arn)
    return {"outcome": outcome.value, "reason": reason, "notificationId": message_id}, metric_points(state, outcome)
