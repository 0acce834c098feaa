"""confirm: look in CloudTrail for the knowledge base's KMS calls on the new key, with backoff, until a deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cmk_guard.core.verification import is_access_denied, is_key_use, next_wait_seconds, summarize

if TYPE_CHECKING:
    from cmk_guard.adapters.cloudtrail import CloudTrail
    from cmk_guard.config import Settings

MAX_REPORTED_EVENTS = 5


def run_confirm(
    *,
    key_arn: str,
    role_arn: str,
    applied_at: str,
    attempt: int,
    settings: Settings,
    cloudtrail: CloudTrail,
) -> dict[str, Any]:
    applied = datetime.fromisoformat(applied_at)
    deadline = applied + timedelta(minutes=settings.verify_timeout_minutes)
    now = datetime.now(UTC)
    records = cloudtrail.key_events(key_arn, applied - timedelta(minutes=5), max(now, applied) + timedelta(minutes=1))
    uses = [r for r in records if is_key_use(r, key_arn=key_arn, role_arn=role_arn, not_before=applied)]
    denied = [r for r in records if is_access_denied(r, key_arn=key_arn)]
    remaining = (deadline - now).total_seconds()
    wait = next_wait_seconds(attempt, settings.verify_poll_initial_seconds, settings.verify_poll_max_seconds)
    result: dict[str, Any] = {
        "attempt": attempt + 1,
        "found": bool(uses),
        "expired": not uses and remaining <= 0,
        "waitSeconds": int(max(1, min(wait, remaining))) if remaining > 0 else 1,
        "events": [summarize(r) for r in uses[:MAX_REPORTED_EVENTS]],
        "accessDenied": len(denied),
        "deadline": deadline.isoformat(),
    }
    if uses:
        result["foundAt"] = now.isoformat()
    return result
