"""Sweep: the scheduled sweep over 10,000 data sources in 1,000 knowledge bases, calls made against the minimum.

The minimum is one list call per page (knowledge bases 50 to a page, data sources 25 to a page, as the sweep asks)
and one read per data source. The sweep also reads each knowledge base (its role and tags decide the verdict), so
the per-knowledge-base reads are reported beside it rather than hidden in the total.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from cmk_guard_local import lambda_runtime  # noqa: F401  (installs the in-process Lambda before clients exist)
from cmk_guard_local.emulated_sweep import EmulatedSweep
from cmk_guard_local.emulator import EmulatedAccount
from cmk_guard_local.stack import EmulatedStack
from cmk_guard_local.sweep_estate import SweepEstate

KB_PAGE, DS_PAGE = 50, 25  # the sweep's page sizes (ListKnowledgeBases maxResults, SWEEP_DATA_SOURCE_PAGE_SIZE)
SWEEP_ROLES = ("SweepListFunctionRole", "SweepEvaluateFunctionRole", "SweepStartFunctionRole", "SweepReportFunctionRole")


def minimum_calls(estate: SweepEstate) -> dict[str, int]:
    """The fewest calls any sweep of ``estate`` can make: list pages plus one read per data source."""
    sizes = estate.sizes()
    return {
        "bedrock-agent:ListKnowledgeBases": -(-len(sizes) // KB_PAGE),
        "bedrock-agent:ListDataSources": sum(max(1, -(-n // DS_PAGE)) for n in sizes),
        "bedrock-agent:GetDataSource": sum(sizes),
    }


def run(estate: SweepEstate | None = None) -> dict[str, Any]:
    estate = estate or SweepEstate()
    with EmulatedAccount(region="us-east-1") as account:
        stack = EmulatedStack(account, parameter_overrides={"Mode": "notify"}, auto_deliver=False).deploy()
        try:
            sweep = EmulatedSweep(stack)
            expected = estate.build(account)
            roles = {stack.role_arns[name] for name in SWEEP_ROLES}
            before = len(account.calls)
            started = time.monotonic()
            result = sweep.run(timeout=1800)
            wall = time.monotonic() - started
            calls = Counter(f"{c.service}:{c.operation}" for c in account.calls[before:] if c.principal in roles)
            minimum = minimum_calls(estate)
            listed_and_read = sum(calls[op] for op in minimum)
            findings = sweep.findings()
            wanted = Counter(verdict for _, verdict in expected.values())
            got = Counter(f["verdict"] for f in findings)
            return {
                "knowledgeBases": estate.knowledge_bases,
                "dataSources": len(expected),
                "status": result.status,
                "wallSecondsInEmulation": round(wall, 1),
                "callsByOperation": dict(sorted(calls.items())),
                "callsTotal": sum(calls.values()),
                "minimumByOperation": minimum,
                "minimumTotal": sum(minimum.values()),
                "listAndReadCalls": listed_and_read,
                "overMinimumPercent": round(100 * (listed_and_read - sum(minimum.values())) / sum(minimum.values()), 2),
                "perKnowledgeBaseReads": sum(calls[op] for op in ("bedrock-agent:GetKnowledgeBase",
                                                                  "bedrock-agent:ListTagsForResource")),
                "verdicts": dict(got),
                "verdictsAsExpected": got == wanted and len(findings) == len(expected),
                "workflowsStarted": result.summary.get("totals", {}).get("started"),
                "sweepHistoryEvents": len(stack.history(result.execution_arn)),
            }
        finally:
            stack.close()


if __name__ == "__main__":
    import json
    import sys

    small = SweepEstate(knowledge_bases=int(sys.argv[1])) if len(sys.argv) > 1 else None
    print(json.dumps(run(small), indent=1))
