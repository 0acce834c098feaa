"""Burst: many data sources created at once without a key, with throttling injected, through the real workflow.

The data sources are created first with delivery held back, then every CloudTrail record is offered to the rule in a
tight loop, so all executions start together. Throttles are injected on the busiest writes and reads; the functions'
own retries must absorb them.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from cmk_guard_local import lambda_runtime  # noqa: F401  (installs the in-process Lambda before clients exist)
from cmk_guard_local.emulator import EmulatedAccount, Fault, acting_as
from cmk_guard_local.scenario import Estate
from cmk_guard_local.stack import EmulatedStack

ADMIN = "arn:aws:iam::123456789012:user/bench-admin"
DATA_SOURCES_PER_KB = 10


def throttles_for(events: int) -> dict[tuple[str, str], int]:
    """How many throttles to inject per operation: one in ten attempts of each, at least one."""
    n = max(1, events // 10)
    return {("bedrock-agent", "UpdateDataSource"): n, ("bedrock-agent", "GetKnowledgeBase"): n,
            ("kms", "CreateKey"): max(1, n // DATA_SOURCES_PER_KB), ("cloudtrail", "LookupEvents"): n}


def peak_rate(times: list[float], window: float = 1.0) -> int:
    """The most calls in any ``window`` seconds."""
    ordered, best, left = sorted(times), 0, 0
    for right, t in enumerate(ordered):
        while t - ordered[left] > window:
            left += 1
        best = max(best, right - left + 1)
    return best


def run(events: int) -> dict[str, Any]:
    with EmulatedAccount(region="us-east-1") as acct:
        stack = EmulatedStack(acct, auto_deliver=False).deploy()
        try:
            estate = Estate(region=acct.region, account_id=acct.account_id)
            with acting_as(ADMIN):
                role = estate.kb_role("kb-burst")
                for k in range(-(-events // DATA_SOURCES_PER_KB)):
                    kb = estate.knowledge_base(f"burst-{k}", role)
                    for d in range(min(DATA_SOURCES_PER_KB, events - k * DATA_SOURCES_PER_KB)):
                        estate.data_source(kb["knowledgeBaseId"], f"ds-{d}")
            records = [r for r in acct.cloudtrail.events if r.get("eventName") == "CreateDataSource"]
            injected = throttles_for(events)
            for (service, operation), times in injected.items():
                acct.faults.add(service, operation, Fault.THROTTLE, times=times)
            roles = set(stack.role_arns.values())
            before = len(acct.calls)
            started = time.monotonic()
            stack.auto_deliver = True
            for record in records:
                stack.deliver(record)
            stack.wait_all(timeout=max(300, events * 2))
            wall = time.monotonic() - started
            calls = [c for c in acct.calls[before:] if c.principal in roles]
            outcomes = Counter(o["outcome"] for o in stack.outcomes())
            failed = sum(n for outcome, n in outcomes.items() if outcome not in {"REMEDIATED_VERIFIED", "REMEDIATED"})
            return {
                "events": events,
                "knowledgeBases": -(-events // DATA_SOURCES_PER_KB),
                "wallSecondsInEmulation": round(wall, 1),
                "calls": len(calls),
                "throttlesInjected": sum(injected.values()),
                "throttlesAbsorbed": sum(1 for c in calls if c.fault is Fault.THROTTLE),
                "keysCreated": sum(1 for c in calls if (c.service, c.operation) == ("kms", "CreateKey") and c.fault is None),
                "keysScheduledForDeletion": sum(
                    1 for c in calls if (c.service, c.operation) == ("kms", "ScheduleKeyDeletion") and c.fault is None),
                "keysInUse": len({o["key"]["keyArn"] for o in stack.outcomes() if o.get("key")}),
                "outcomes": dict(outcomes),
                "failedRemediations": failed,
                "peakLookupEventsPerSecond": peak_rate(acct.cloudtrail.lookup_call_times),
            }
        finally:
            stack.close()


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 50), indent=1))
