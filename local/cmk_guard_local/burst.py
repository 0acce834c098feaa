"""Burst: many data sources created at once on the emulated account, with throttling on, through the real workflow.

``python -m cmk_guard_local.burst --data-sources 1000`` runs the full size and prints what happened; the test suite
runs a smaller size with the same code (``tests/reliability/test_burst.py``). The state machine runs as written
(no shortened Retry waits): the confirm function's reserved concurrency of 1 and its 0.55 s pacing are what keep
LookupEvents within 2 calls per second, and its ``Lambda.TooManyRequestsException`` retrier absorbs the queue.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from cmk_guard_local import lambda_runtime
from cmk_guard_local.emulator import EmulatedAccount, Fault
from cmk_guard_local.scenario import Estate
from cmk_guard_local.stack import EmulatedStack

THROTTLED = (("bedrock-agent", "UpdateDataSource"), ("bedrock-agent", "GetDataSource"), ("kms", "CreateKey"))


@dataclass
class BurstReport:
    data_sources: int
    seconds: float
    outcomes: Counter[str]
    updates_per_data_source: Counter[int]
    keys_created: int
    keys_enabled: int
    on_their_key: int
    throttles_injected: int
    lookup_times: list[float]
    confirm_throttles: int
    confirm_peak_concurrency: int
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    def busiest_second(self) -> int:
        """The most LookupEvents calls in any window of one second (half-open)."""
        times = sorted(self.lookup_times)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def lines(self) -> list[str]:
        return [
            f"data sources         {self.data_sources} in {self.seconds:.0f} s",
            f"executions           {dict(self.statuses)}",
            f"outcomes             {dict(self.outcomes)}",
            f"updates per source   {dict(self.updates_per_data_source)} (updates: count of data sources)",
            f"on their new key     {self.on_their_key}",
            f"keys created/enabled {self.keys_created}/{self.keys_enabled}",
            f"throttles injected   {self.throttles_injected}",
            f"LookupEvents         {len(self.lookup_times)} calls, at most {self.busiest_second()} in any second",
            f"confirm function     peak concurrency {self.confirm_peak_concurrency}, {self.confirm_throttles} invocations throttled",
            *(f"failed ({count})         {reason}" for reason, count in self.failures.most_common(5)),
        ]


def run_burst(data_sources: int, per_knowledge_base: int = 10, throttle_share: float = 0.25, timeout: float = 3600) -> BurstReport:
    """Create ``data_sources`` data sources (``per_knowledge_base`` per knowledge base) without a key, with the first
    ``throttle_share`` of the calls in ``THROTTLED`` throttled, and wait for every workflow."""
    saved = dict(os.environ)
    with EmulatedAccount() as account:
        account.bedrock.ingestion_polls_to_finish = 1
        stack = EmulatedStack(account).deploy()
        try:
            estate = Estate(account.region, account.account_id)
            roles = {n: stack.role_arns[n] for n in ("CheckFunctionRole", "ApplyFunctionRole", "KeyFunctionRole")}
            rules = [
                account.faults.add(service, operation, Fault.THROTTLE, times=max(1, int(data_sources * throttle_share)),
                                   principal=roles["KeyFunctionRole" if service == "kms" else "ApplyFunctionRole"])
                for service, operation in THROTTLED
            ]
            started = time.monotonic()
            expected: dict[str, str] = {}
            for kb_index in range((data_sources + per_knowledge_base - 1) // per_knowledge_base):
                kb = estate.knowledge_base(f"kb-{kb_index}", estate.kb_role(f"kb-role-{kb_index}"))
                for ds_index in range(min(per_knowledge_base, data_sources - kb_index * per_knowledge_base)):
                    ds = estate.data_source(kb["knowledgeBaseId"], f"docs-{ds_index}")
                    expected[ds["dataSourceId"]] = kb["knowledgeBaseId"]
            executions = stack.wait_all(timeout)
            seconds = time.monotonic() - started
            return _report(account, stack, expected, executions, rules, seconds)
        finally:
            stack.close()
            os.environ.clear()
            os.environ.update(saved)


def _report(account, stack, expected, executions, rules, seconds) -> BurstReport:
    import boto3

    apply_role = stack.role_arns["ApplyFunctionRole"]
    updates = Counter(
        r["requestParameters"]["dataSourceId"]
        for r in account.cloudtrail.events
        if r.get("eventName") == "UpdateDataSource" and not r.get("errorCode")
        and str(r.get("userIdentity", {}).get("arn", "")).startswith(apply_role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/"))
    )
    outcomes = stack.outcomes()
    agent, kms = boto3.client("bedrock-agent"), boto3.client("kms")
    on_key = 0
    for ds_id, kb_id in expected.items():
        key = (agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)["dataSource"].get("serverSideEncryptionConfiguration") or {}).get("kmsKeyArn")
        mine = [o for o in outcomes if (o.get("target") or {}).get("dataSourceId") == ds_id]
        on_key += bool(key) and len(mine) == 1 and mine[0].get("key", {}).get("keyArn") == key
    managed = [k for k in kms.list_keys()["Keys"] if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"].get("Description", "").startswith("cmk-guard")]
    enabled = sum(kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled" for k in managed)
    confirm = next(f for name, f in lambda_runtime._FUNCTIONS.items() if name.endswith("ConfirmFunction"))
    return BurstReport(
        data_sources=len(expected),
        seconds=seconds,
        outcomes=Counter(o["outcome"] for o in outcomes),
        updates_per_data_source=Counter(updates.get(ds, 0) for ds in expected),
        keys_created=len(managed),
        keys_enabled=enabled,
        on_their_key=on_key,
        throttles_injected=sum(r.hits for r in rules),
        lookup_times=account.cloudtrail.lookup_call_times,
        confirm_throttles=confirm.throttles,
        confirm_peak_concurrency=confirm.peak_running,
        statuses=Counter(e["status"] for e in executions),
        failures=Counter(str(o.get("reason"))[:160] for o in outcomes if o["outcome"] == "FAILED"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-sources", type=int, default=1000)
    parser.add_argument("--per-knowledge-base", type=int, default=10)
    args = parser.parse_args(argv)
    report = run_burst(args.data_sources, args.per_knowledge_base)
    print("\n".join(report.lines()))
    ok = report.outcomes.get("REMEDIATED_VERIFIED", 0) == report.data_sources and report.busiest_second() <= 2
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    sys.exit(main())
