"""record: one outcome per workflow, in the ledger, as metrics and as a notification; then release the lock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cmk_guard.adapters.ledger import data_source_key
from cmk_guard.core.models import Target
from cmk_guard.core.outcome import decide_outcome, outcome_reason
from cmk_guard.core.report import SILENT_OUTCOMES, MetricPoint, metric_points, notification
from cmk_guard.errors import CmkGuardError, TransientError

if TYPE_CHECKING:
    from cmk_guard.adapters.ledger import Ledger
    from cmk_guard.adapters.notifier import Notifier


RECORDED_PARTS = (
    "target", "check", "proposal", "key", "apply", "ingestion", "verification", "verificationError", "approval", "repair",
    "repairError",
)


def _ledger_partition(state: dict[str, Any], execution_arn: str) -> tuple[str, Target | None]:
    raw = state.get("target")
    if raw:
        target = Target.model_validate(raw)
        return data_source_key(target), target
    return f"INVALID#{execution_arn.rsplit(':', 1)[-1]}", None


def _stamp(started_at: str | None) -> int:
    """Epoch seconds of the execution's start (stable across retries of the record step); now if unknown."""
    try:
        return int(datetime.fromisoformat(str(started_at).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return int(datetime.now(UTC).timestamp())


def run_record(
    state: dict[str, Any], execution_arn: str, ledger: Ledger, notifier: Notifier, started_at: str | None = None
) -> tuple[dict[str, Any], list[MetricPoint]]:
    """Record once: a retried attempt of the same execution finds its outcome written and notifies only if the
    earlier attempt did not get that far."""
    outcome = decide_outcome(state)
    reason = outcome_reason(state, outcome)
    partition, target = _ledger_partition(state, execution_arn)
    record = {
        "outcome": outcome.value,
        "reason": reason,
        "recordedAt": datetime.now(UTC).isoformat(),
        "executionArn": execution_arn,
        **{k: state[k] for k in RECORDED_PARTS if k in state},
    }
    stamp = _stamp(started_at)
    earlier = ledger.put_outcome(partition, execution_arn, record, stamp=stamp)
    message_id = ((earlier or {}).get("notificationId") or {}).get("S")
    if outcome not in SILENT_OUTCOMES and message_id is None:
        subject, body = notification(state, outcome, reason, execution_arn)
        message_id = notifier.publish(subject, body, {"outcome": outcome.value})
        ledger.note_notification(partition, execution_arn, record, stamp, message_id)
    result: dict[str, Any] = {"outcome": outcome.value, "reason": reason, "notificationId": message_id}
    if target is not None and (state.get("check") or {}).get("lockHeld"):
        try:
            ledger.release_lock(target, execution_arn)
        except TransientError:
            raise  # retried: the outcome and the notification above are not repeated
        except CmkGuardError as exc:  # recorded and notified already; the lock expires on its own
            result["lockReleaseError"] = str(exc)
    return result, metric_points(state, outcome)
