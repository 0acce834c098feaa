"""LookupEvents attempts are spaced from the previous answer, so they stay under 2 per second wherever they are
counted, throttled retries included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cmk_guard.adapters.aws import client
from cmk_guard.adapters.cloudtrail import MIN_INTERVAL_SECONDS, CloudTrail
from cmk_guard_local.emulator import Fault

KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def test_each_attempt_starts_at_least_the_interval_after_the_previous_answer(account, quick_sdk_backoff) -> None:
    # GIVEN look-ups where the first attempts are throttled (the SDK retries them)
    account.faults.add("cloudtrail", "LookupEvents", Fault.THROTTLE, times=2)
    cloudtrail = CloudTrail(client("cloudtrail", account.region))
    now = datetime.now(UTC)
    # WHEN the confirm step looks up four times in a row
    for _ in range(4):
        cloudtrail.key_events(KEY, now - timedelta(minutes=5), now)
    # THEN every attempt the service saw, retries included, came at least the interval after the one before
    times = account.cloudtrail.lookup_call_times
    assert len(times) == 6
    assert min(b - a for a, b in zip(times, times[1:])) >= MIN_INTERVAL_SECONDS
    assert MIN_INTERVAL_SECONDS >= 0.5, "2 requests per second per account and region"
