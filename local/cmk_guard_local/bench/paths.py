"""API calls, critical-path round trips and state transitions per execution, for each path through the workflow.

Each path runs once through the real state machine on its own emulated account. Calls come from the account's
call log (every attempt) filtered to cmk-guard's roles; transitions are the ``*StateEntered`` events of the
execution history, which is how Standard workflows are billed. While a path is measured every call takes
``NETWORK_LATENCY`` seconds more, as a round trip over a network does: emulated calls answer in microseconds, so
without it calls made at once would rarely overlap in time and the round-trip count would not show them.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from cmk_guard_local import lambda_runtime  # noqa: F401  (installs the in-process Lambda before clients exist)
from cmk_guard_local.bench.pricing import ExecutionCounts, round_trips
from cmk_guard_local.bench.timing import TimedCall, timed_calls
from cmk_guard_local.emulator import EmulatedAccount, Fault, acting_as
from cmk_guard_local.scenario import Estate
from cmk_guard_local.stack import EmulatedStack

ADMIN = "arn:aws:iam::123456789012:user/bench-admin"
LINK = re.compile(r"^https?://\S+/approvals/\S+$", re.MULTILINE)
FIX = ("bedrock-agent", "UpdateDataSource")
NETWORK_LATENCY = 0.03  # seconds added to every call while a path is measured


@dataclass
class PathResult:
    name: str
    outcome: str
    calls: Counter[str]
    critical_path: list[list[str]]  # each inner list: calls that ran concurrently (one round trip)
    transitions: int
    states: Counter[str]
    lambda_invocations: int
    lambda_seconds: float
    kms_requests: int
    keys_created: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> ExecutionCounts:
        return ExecutionCounts(self.transitions, self.lambda_invocations, self.kms_requests, self.keys_created)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "callsTotal": sum(self.calls.values()),
            "calls": dict(sorted(self.calls.items())),
            "criticalPathRoundTrips": len(self.critical_path) if self.critical_path else None,
            "criticalPath": self.critical_path,
            "stateTransitions": self.transitions,
            "statesEntered": dict(self.states),
            "lambdaInvocations": self.lambda_invocations,
            "lambdaSecondsInEmulation": round(self.lambda_seconds, 3),
            "kmsRequests": self.kms_requests,
            "keysCreated": self.keys_created,
            **self.extra,
        }


def critical_path(timed: list[TimedCall]) -> list[list[str]]:
    """The calls up to and including the fix, grouped into sequential round trips (overlapping calls share one)."""
    end = next((i for i, c in enumerate(timed) if (c.service, c.operation) == FIX), None)
    if end is None:
        return []
    calls = sorted(timed[: end + 1], key=lambda c: c.started)
    groups: list[list[TimedCall]] = []
    for call in calls:
        if groups and call.started < max(c.ended for c in groups[-1]):
            groups[-1].append(call)
        else:
            groups.append([call])
    assert len(groups) == round_trips([(c.started, c.ended) for c in calls])
    return [[f"{c.service}:{c.operation}" for c in group] for group in groups]


def _mail(stack: EmulatedStack, timeout: float = 30) -> str:
    sqs = boto3.client("sqs", region_name=stack.region)
    url = stack.refs["ApprovalTopic.InboxUrl"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return str(json.loads(message["Body"])["Message"])
        time.sleep(0.05)
    raise TimeoutError("no approval e-mail arrived")


def _approve(stack: EmulatedStack) -> None:
    """Open the link in the approval e-mail and POST an approval, as a person does from the page."""
    (link,) = LINK.findall(_mail(stack))
    with urllib.request.urlopen(link, timeout=30) as response:
        response.read()
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(link))
    form = urllib.parse.urlencode({"decision": "approve", "name": "Bench Approver", "reason": "benchmark"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": origin, "Sec-Fetch-Site": "same-origin"}
    with urllib.request.urlopen(urllib.request.Request(link, data=form, headers=headers), timeout=30) as response:
        response.read()


def _prepare(kind: str, estate: Estate) -> tuple[dict[str, str] | None, Callable[[str], dict[str, Any]]]:
    """Knowledge base tags for the path, and a function that creates the measured data source."""
    role = estate.kb_role(f"kb-{kind}")
    tags = {"new-key": None, "reused-key": None, "already-compliant": None,
            "approval": {"cmk-guard:mode": "approval"}, "notify": {"cmk-guard:mode": "notify"}}[kind]
    key = estate.customer_key([role]) if kind == "already-compliant" else None

    def create(kb_id: str) -> dict[str, Any]:
        return estate.data_source(kb_id, f"{kind}-measured", kms_key_arn=key)

    return tags, create


def measure(kind: str) -> PathResult:
    """Run one path on a fresh emulated account and read what it cost."""
    with EmulatedAccount(region="us-east-1") as acct:
        stack = EmulatedStack(acct).deploy()
        try:
            estate = Estate(region=acct.region, account_id=acct.account_id)
            with acting_as(ADMIN):
                tags, create = _prepare(kind, estate)
                kb = estate.knowledge_base(f"bench-{kind}", estate.kb_role(f"kb-{kind}-owner"), tags=tags)
                if kind == "reused-key":  # a first data source creates the knowledge base's key
                    estate.data_source(kb["knowledgeBaseId"], "first")
            stack.wait_all(120)
            roles = set(stack.role_arns.values())
            invocations_before = sum(f.invocations for f in stack.functions.values())
            seconds: list[float] = []
            lambda_runtime.on_invoke(lambda *_: None)
            acct.faults.add("*", None, Fault.LATENCY, seconds=NETWORK_LATENCY)
            with timed_calls(acct) as timed:
                started = time.monotonic()
                with acting_as(ADMIN):
                    ds = create(kb["knowledgeBaseId"])
                execution = stack.deliveries[-1].execution_arn
                assert execution is not None
                if kind == "approval":
                    _approve(stack)
                description = stack.wait(execution, 120)
                stack.wait_invocations(60)
                seconds.append(time.monotonic() - started)
            mine = [c for c in timed if c.principal in roles]
            history = stack.history(execution)
            states = Counter(
                e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
            )
            output = stack.record_output(execution)
            calls = Counter(f"{c.service}:{c.operation}" for c in mine)
            return PathResult(
                name=kind,
                outcome=f"{description['status']} / {output.get('record', {}).get('outcome', output.get('outcome', '?'))}",
                calls=calls,
                critical_path=critical_path(mine),
                transitions=sum(states.values()),
                states=states,
                lambda_invocations=sum(f.invocations for f in stack.functions.values()) - invocations_before,
                lambda_seconds=seconds[0],
                kms_requests=sum(n for op, n in calls.items() if op.startswith("kms:")),
                keys_created=calls.get("kms:CreateKey", 0),
                extra={"dataSourceId": ds["dataSourceId"]},
            )
        finally:
            stack.close()


PATHS = ("new-key", "reused-key", "already-compliant", "approval", "notify")


def run() -> list[PathResult]:
    return [measure(kind) for kind in PATHS]


if __name__ == "__main__":
    for result in run():
        print(json.dumps({result.name: result.to_json()}, indent=1, default=str))
