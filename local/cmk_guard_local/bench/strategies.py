"""Keys and money per ``KeyStrategy``: a sample estate through the real workflow under each strategy.

The estate: knowledge bases spread over a few service roles, most tagged with one of a few tenant values and some
untagged, each with one data source created without a key. Keys created are counted from the call log; what a
strategy requires is the number of distinct scopes it keys on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import boto3

from cmk_guard_local import lambda_runtime  # noqa: F401  (installs the in-process Lambda before clients exist)
from cmk_guard_local.bench.pricing import monthly_key_cost
from cmk_guard_local.emulator import EmulatedAccount, acting_as
from cmk_guard_local.scenario import Estate
from cmk_guard_local.stack import EmulatedStack

ADMIN = "arn:aws:iam::123456789012:user/bench-admin"
TAG = "cmk-guard:key-group"
STRATEGIES = ("per-knowledge-base", "per-role", "per-tag", "existing")


@dataclass(frozen=True)
class SampleEstate:
    knowledge_bases: int
    roles: int
    tenants: int
    untagged_every: int = 7  # every n-th knowledge base carries no tenant tag

    def layout(self) -> list[tuple[int, str | None]]:
        """(role index, tenant tag or None) for each knowledge base."""
        return [(i % self.roles, None if i % self.untagged_every == 0 else f"tenant-{i % self.tenants}")
                for i in range(self.knowledge_bases)]

    def required(self, strategy: str) -> int:
        """Keys the strategy needs for this estate (an untagged knowledge base gets its own key under per-tag)."""
        layout = self.layout()
        if strategy == "per-knowledge-base":
            return len(layout)
        if strategy == "per-role":
            return len({role for role, _ in layout})
        if strategy == "per-tag":
            return len({tag for _, tag in layout if tag}) + sum(1 for _, tag in layout if tag is None)
        if strategy == "existing":
            return 0  # the one configured key already exists
        raise ValueError(f"unknown key strategy {strategy!r}")


def run_strategy(strategy: str, sample: SampleEstate) -> dict[str, Any]:
    with EmulatedAccount(region="us-east-1") as acct:
        estate = Estate(region=acct.region, account_id=acct.account_id)
        overrides: dict[str, str] = {"KeyStrategy": strategy}
        with acting_as(ADMIN):
            if strategy == "existing":
                overrides["ExistingKeyArn"] = estate.customer_key([], description="the one shared key")
            roles = [estate.kb_role(f"kb-role-{r}") for r in range(sample.roles)]
        stack = EmulatedStack(acct, parameter_overrides=overrides, auto_deliver=False).deploy()
        try:
            with acting_as(ADMIN):
                for i, (role, tag) in enumerate(sample.layout()):
                    kb = estate.knowledge_base(f"kb-{i}", roles[role], tags={TAG: tag} if tag else None)
                    estate.data_source(kb["knowledgeBaseId"], "docs")
            records = [r for r in acct.cloudtrail.events if r.get("eventName") == "CreateDataSource"]
            started = time.monotonic()
            for record in records:
                stack.deliver(record)
            stack.wait_all(timeout=600)
            wall = time.monotonic() - started
            mine = set(stack.role_arns.values())
            created = sum(1 for c in acct.calls if c.principal in mine and (c.service, c.operation) == ("kms", "CreateKey")
                          and c.fault is None)
            scheduled = sum(1 for c in acct.calls if c.principal in mine
                            and (c.service, c.operation) == ("kms", "ScheduleKeyDeletion") and c.fault is None)
            outcomes = stack.outcomes()
            keys_in_use = {o["key"]["keyArn"] for o in outcomes if o.get("key")}
            remediated = sum(1 for o in outcomes if o["outcome"] == "REMEDIATED_VERIFIED")
            required = sample.required(strategy)
            enabled = [k for k in boto3.client("kms", region_name=acct.region).list_keys()["Keys"]]
            return {
                "strategy": strategy,
                "knowledgeBases": sample.knowledge_bases,
                "remediated": remediated,
                "keysCreated": created,
                "keysRequired": required,
                "keysInUse": len(keys_in_use),
                "keysInAccount": len(enabled),
                "keysScheduledForDeletion": scheduled,
                "monthlyKeyCost": monthly_key_cost(created),
                "withinRequired": created <= required,
                "wallSecondsInEmulation": round(wall, 1),
            }
        finally:
            stack.close()


def run(sample: SampleEstate) -> list[dict[str, Any]]:
    return [run_strategy(strategy, sample) for strategy in STRATEGIES]


if __name__ == "__main__":
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    print(json.dumps(run(SampleEstate(n, 3, 5)), indent=1))
