"""The sweep: the real sweep.asl.json in moto's interpreter, the real handlers, the emulated account."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import boto3
import pytest
from botocore.retries.standard import ExponentialBackoff

from cmk_guard.core.events import sweep_event
from cmk_guard_local import lambda_runtime, scan
from cmk_guard_local.emulated_sweep import EmulatedSweep
from cmk_guard_local.emulator import Fault
from cmk_guard_local.mixed_estate import build_mixed_estate

SMALL_PAGES = {"SWEEP_KNOWLEDGE_BASE_PAGE_SIZE": "3", "SWEEP_DATA_SOURCE_PAGE_SIZE": "2"}


@pytest.fixture
def sweep_stack(make_stack):
    """cmk-guard without the EventBridge delivery (only the sweep starts workflows), with small pages. Every
    remediate execution a test started is finished before the account goes away."""
    stack = make_stack(env=dict(SMALL_PAGES), auto_deliver=False)
    yield stack
    wait_for_executions(stack)


@pytest.fixture
def sweep(sweep_stack) -> EmulatedSweep:
    return EmulatedSweep(sweep_stack)


@pytest.fixture
def quick_sdk_backoff(monkeypatch):
    """The SDK's retry delays (jittered, exponential) scaled down 50 times: the same attempts, in less time."""
    original = ExponentialBackoff.delay_amount
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: original(self, context) / 50)


def remediate_executions(stack) -> list[dict]:
    sfn = stack.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.state_machine_arn)
    return [e for page in pages for e in page["executions"]]


def started_per_data_source(stack) -> Counter[str]:
    """Remediate executions per data source id (the sweep names them sweep-<sweep>-<kb>-<ds>)."""
    return Counter(e["name"].rsplit("-", 1)[-1] for e in remediate_executions(stack))


def wait_for_executions(stack, timeout: float = 120) -> list[dict]:
    for execution in remediate_executions(stack):
        stack.wait(execution["executionArn"], timeout)
    return stack.outcomes()


def non_compliant(estate) -> set[str]:
    return {ds for ds, (verdict, _) in estate.expected.items() if verdict == "NON_COMPLIANT"}


def emf_values(document: dict) -> dict[str, float]:
    names = [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    return {name: (document[name][0] if isinstance(document[name], list) else document[name]) for name in names}


def test_sweep_and_scan_agree_on_every_verdict_and_the_ratio(account, sweep_stack, sweep) -> None:
    # GIVEN compliant, non-compliant, exempt, managed and unreadable data sources
    estate = build_mixed_estate(account)
    # WHEN the CLI scans the account (small pages) and the sweep runs (small pages)
    built = len(account.calls)
    cli = scan.collect(boto3.session.Session(), [account.region], page_size=2)
    scanned = len(account.calls)
    run = sweep.run()
    # THEN both report the expected verdict for every data source, and the same ratio
    assert run.status == "SUCCEEDED", run
    by_cli = {f.data_source_id or f.knowledge_base_id: (f.verdict.value, f.reason.value) for f in cli.findings}
    by_sweep = {f.get("dataSourceId") or f["knowledgeBaseId"]: (f["verdict"], f["reason"]) for f in sweep.findings()}
    assert by_cli == by_sweep == estate.expected
    totals = run.summary["totals"]
    assert (totals["compliant"], totals["nonCompliant"], totals["skipped"], totals["unknown"]) == (4, 5, 3, 4)
    assert run.summary["complianceRatio"] == pytest.approx(cli.compliance_ratio) == pytest.approx(4 / 13)
    assert totals["knowledgeBases"] == cli.knowledge_bases == len(estate.knowledge_bases)
    # ... and the ratio and counts are EMF metrics in CmkGuard with no dimension but the service
    (document,) = sweep.metrics()
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "CmkGuard" and directive["Dimensions"] == [["service"]]
    assert document["service"] == "cmk-guard"
    values = emf_values(document)
    assert values["ComplianceRatio"] == pytest.approx(4 / 13)
    assert (values["CompliantDataSources"], values["NonCompliantDataSources"]) == (4, 5)
    assert (values["SkippedDataSources"], values["UnknownDataSources"]) == (3, 4)
    assert values["SweepRemediationsStarted"] == 5
    # ... and every list call went through more than one page, for the sweep as for the CLI (9 knowledge bases)
    sweep_calls = Counter((c.operation, c.principal) for c in account.calls[scanned:] if c.service == "bedrock-agent")
    list_role, evaluate_role = sweep_stack.role_arns["SweepListFunctionRole"], sweep_stack.role_arns["SweepEvaluateFunctionRole"]
    assert sweep_calls[("ListKnowledgeBases", list_role)] == 3, "pages of 3"
    assert sweep_calls[("ListDataSources", evaluate_role)] > len(estate.knowledge_bases), "pages of 2"
    cli_calls = Counter(c.operation for c in account.calls[built:scanned] if c.service == "bedrock-agent")
    assert cli_calls["ListKnowledgeBases"] == 5, "pages of 2"
    assert cli_calls["ListDataSources"] > len(estate.knowledge_bases)


def test_sweep_starts_one_workflow_per_non_compliant_data_source_even_twice_in_a_row(account, sweep_stack, sweep) -> None:
    # GIVEN the mixed estate, swept once
    estate = build_mixed_estate(account)
    first = sweep.run()
    assert first.summary["totals"]["started"] == 5
    outcomes = wait_for_executions(sweep_stack)
    # THEN the auto-mode data sources were fixed, the notify-mode one reported, the time counted from the sweep
    by_source = {o["target"]["dataSourceId"]: o for o in outcomes}
    assert set(by_source) == non_compliant(estate)
    papers = estate.data_sources["research/papers"]
    assert by_source.pop(papers)["outcome"] == "NOTIFIED"
    assert {o["outcome"] for o in by_source.values()} <= {"REMEDIATED_VERIFIED", "REMEDIATED_UNVERIFIED"}
    observed = {f["dataSourceId"] for f in sweep.findings() if f["verdict"] == "NON_COMPLIANT"}
    assert observed == non_compliant(estate)
    assert {o["target"]["eventName"] for o in outcomes} == {"Sweep"}
    # WHEN the sweep runs again after those workflows finished
    second = sweep.run()
    # THEN the fixed ones are compliant now, the notified one is not reported again, and nothing else started
    totals = second.summary["totals"]
    assert (totals["compliant"], totals["nonCompliant"], totals["started"], totals["alreadyNotified"]) == (8, 1, 0, 1)
    assert started_per_data_source(sweep_stack) == Counter({ds: 1 for ds in non_compliant(estate)})


def test_sweep_while_remediations_run_starts_no_duplicate(account, sweep_stack, sweep) -> None:
    # GIVEN the remediations the first sweep starts stay in progress (held right after their check took the lock)
    estate = build_mixed_estate(account)
    gate = threading.Event()

    def hold_after_lock(function, event, result, lines) -> None:
        if function.name.endswith("-CheckFunction") and isinstance(result, dict) and (result.get("check") or {}).get("lockHeld"):
            gate.wait(120)

    lambda_runtime.on_invoke(hold_after_lock)
    try:
        first = sweep.run()
        assert first.summary["totals"]["started"] == 5
        locks = _wait_for_locks(sweep_stack, 4)
        notify = [e for e in remediate_executions(sweep_stack) if e["name"].endswith(estate.data_sources["research/papers"])]
        sweep_stack.wait(notify[0]["executionArn"])
        # WHEN a second sweep runs while they are still running
        second = sweep.run()
    finally:
        gate.set()
    # THEN it starts nothing: the locks stop the auto ones, the notified finding is not reported twice
    totals = second.summary["totals"]
    assert (totals["nonCompliant"], totals["started"], totals["inProgress"], totals["alreadyNotified"]) == (5, 0, 4, 1)
    assert len(locks) == 4
    wait_for_executions(sweep_stack)
    assert started_per_data_source(sweep_stack) == Counter({ds: 1 for ds in non_compliant(estate)})


def _wait_for_locks(stack, count: int, timeout: float = 60) -> list[dict]:
    dynamodb = stack.client("dynamodb")
    deadline = time.monotonic() + timeout
    while True:
        items = dynamodb.scan(TableName=stack.ledger_table)["Items"]
        locks = [i for i in items if i["sk"]["S"] == "LOCK"]
        if len(locks) >= count or time.monotonic() > deadline:
            return locks
        time.sleep(0.05)


def test_a_sweep_finding_delivered_twice_is_claimed_once(account, estate, sweep_stack) -> None:
    # GIVEN one non-compliant data source and the sweep's finding for it, started twice
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    observed = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    finding = sweep_event(account.account_id, account.region, kb["knowledgeBaseId"], ds["dataSourceId"], "sweep-1", observed)
    first, second = sweep_stack.start(finding), sweep_stack.start(finding)
    # WHEN both executions finish
    statuses = {sweep_stack.wait(first)["status"], sweep_stack.wait(second)["status"]}
    # THEN one remediated it and the other stopped at the claim
    assert statuses == {"SUCCEEDED"}
    (outcome,) = sweep_stack.outcomes()
    assert outcome["outcome"] == "REMEDIATED_VERIFIED"
    assert outcome["target"]["eventId"] == f"sweep-sweep-1-{kb['knowledgeBaseId']}-{ds['dataSourceId']}"
    assert outcome["target"]["eventTime"].startswith("2026-11-29T06:00:00")
    duplicate_ends = [
        e for arn in (first, second) for e in sweep_stack.history(arn)
        if (e.get("stateEnteredEventDetails") or {}).get("name") == "DuplicateEvent"
    ]
    assert len(duplicate_ends) == 1


def test_a_retried_start_starts_each_workflow_once(account, estate, sweep_stack, sweep, quick_sdk_backoff) -> None:
    # GIVEN two non-compliant data sources in one page, and the lock read of the second throttled through all of
    # the SDK's attempts, so the start step fails after starting the first and Step Functions retries it
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    first = estate.data_source(kb["knowledgeBaseId"], "policies")["dataSourceId"]
    second = estate.data_source(kb["knowledgeBaseId"], "contracts")["dataSourceId"]
    lock_key = {"pk": {"S": f"DS#{account.account_id}#{account.region}#{kb['knowledgeBaseId']}#{second}"}, "sk": {"S": "LOCK"}}
    rule = account.faults.add("dynamodb", "GetItem", Fault.THROTTLE, times=6, params={"Key": lock_key})
    # WHEN the sweep runs
    run = sweep.run()
    # THEN the retry started the second without starting the first again
    assert rule.hits == 6
    starts = sweep.of("SweepStartFunction")
    assert [s.errored for s in starts] == [True, False]
    assert run.summary["totals"]["started"] == 2
    assert started_per_data_source(sweep_stack) == Counter({first: 1, second: 1})
    wait_for_executions(sweep_stack)


def test_sweep_rides_out_throttling_of_every_read(account, estate, sweep_stack, sweep, quick_sdk_backoff) -> None:
    # GIVEN a small estate, and throttling on every Bedrock list and get call and on DescribeKey
    role = estate.kb_role()
    key = estate.customer_key([role])
    expected = {}
    for k in range(4):
        kb = estate.knowledge_base(f"kb-{k}", role)["knowledgeBaseId"]
        for d in range(3):
            ds = estate.data_source(kb, f"docs-{d}", kms_key_arn=key)["dataSourceId"]
            expected[ds] = "COMPLIANT"
    first_kb = next(iter(account.bedrock.knowledge_bases()))["knowledgeBaseId"]
    rules = [
        account.faults.add("bedrock-agent", "ListKnowledgeBases", Fault.THROTTLE, times=2),
        # all six SDK attempts of one knowledge base's listing fail, so the state machine's retry is exercised too
        account.faults.add("bedrock-agent", "ListDataSources", Fault.THROTTLE, times=6, params={"knowledgeBaseId": first_kb}),
        account.faults.add("bedrock-agent", "GetKnowledgeBase", Fault.THROTTLE, times=3),
        account.faults.add("bedrock-agent", "GetDataSource", Fault.THROTTLE, times=4),
        account.faults.add("kms", "DescribeKey", Fault.THROTTLE, times=3),
    ]
    # WHEN the sweep runs
    run = sweep.run()
    # THEN every fault was met, and still every data source was evaluated exactly once, none UNKNOWN
    assert run.status == "SUCCEEDED"
    assert [r.hits for r in rules] == [2, 6, 3, 4, 3]
    findings = sweep.findings()
    assert Counter(f["dataSourceId"] for f in findings) == Counter({ds: 1 for ds in expected})
    assert {f["dataSourceId"]: f["verdict"] for f in findings} == expected
    assert run.summary["totals"]["compliant"] == 12 and run.summary["failedKnowledgeBases"] == []
    assert any(i.errored for i in sweep.of("SweepEvaluateFunction")), "the SDK's retries were exhausted once"


def test_a_knowledge_base_that_keeps_failing_counts_as_unknown(account, estate, sweep_stack, sweep) -> None:
    # GIVEN two knowledge bases, one of whose data sources fails with an error that is not retried
    role = estate.kb_role()
    key = estate.customer_key([role])
    good = estate.knowledge_base("good", role)["knowledgeBaseId"]
    estate.data_source(good, "docs", kms_key_arn=key)
    bad = estate.knowledge_base("bad", role)["knowledgeBaseId"]
    estate.data_source(bad, "docs", kms_key_arn=key)
    broken = estate.data_source(bad, "more")["dataSourceId"]
    account.faults.add("bedrock-agent", "GetDataSource", Fault.CONFLICT, params={"dataSourceId": broken})
    # WHEN the sweep runs
    run = sweep.run()
    # THEN it completes; the failed knowledge base's page is not counted but stands as one UNKNOWN, and is named
    assert run.status == "SUCCEEDED"
    totals = run.summary["totals"]
    assert (totals["compliant"], totals["unknown"], totals["failedKnowledgeBases"]) == (1, 1, 1)
    assert run.summary["failedKnowledgeBases"] == [bad]
    assert run.summary["complianceRatio"] == pytest.approx(1 / 2)


def test_sweep_of_an_empty_account_reports_no_ratio(account, sweep_stack, sweep) -> None:
    run = sweep.run()
    assert run.status == "SUCCEEDED"
    assert run.summary["evaluated"] == 0 and run.summary["complianceRatio"] is None
    (document,) = sweep.metrics()
    values = emf_values(document)
    assert "ComplianceRatio" not in values, "an undefined ratio is not reported as 0 or 100 %"
    assert values["CompliantDataSources"] == 0


def test_sweep_output_is_the_summary_and_its_history_stays_small(account, estate, sweep_stack, sweep) -> None:
    # Each knowledge base runs in a child execution of the Distributed Map: the sweep's own history grows per page
    # of knowledge bases, not per knowledge base or data source (Standard executions stop at 25,000 events).
    role = estate.kb_role()
    for k in range(6):
        kb = estate.knowledge_base(f"kb-{k}", role)["knowledgeBaseId"]
        estate.data_source(kb, "docs")
    run = sweep.run()
    history = sweep_stack.history(run.execution_arn)
    types = Counter(e["type"] for e in history)
    assert types["MapRunStarted"] == 2, "two pages of three knowledge bases"
    assert types["TaskStateEntered"] == 3 + 1, "three list steps and the report; no evaluation in the parent"
    assert json.loads(sweep_stack.client("stepfunctions").describe_execution(executionArn=run.execution_arn)["output"]) == run.summary
