"""The sweep at scale: 10,000 data sources across 1,000 knowledge bases, with the Bedrock and KMS reads throttled."""

from __future__ import annotations

from collections import Counter

import pytest

from cmk_guard_local.emulated_sweep import EmulatedSweep
from cmk_guard_local.emulator import Fault
from cmk_guard_local.sweep_estate import SweepEstate

ESTATE = SweepEstate()  # 1,000 knowledge bases; every 20th has 29 data sources (two pages of 25), the others 9
KNOWLEDGE_BASES, LARGE_EVERY, NON_COMPLIANT = ESTATE.knowledge_bases, ESTATE.large_every, ESTATE.non_compliant
DATA_SOURCE_PAGE = 25  # template.yaml's SWEEP_DATA_SOURCE_PAGE_SIZE


@pytest.mark.slow
def test_sweep_of_ten_thousand_data_sources_under_throttling(account, make_stack) -> None:
    # GIVEN 10,000 data sources in 1,000 knowledge bases, the stack in notify mode (the sweep's workflows only
    # report), and throttling on every Bedrock list and get call and on DescribeKey
    stack = make_stack(auto_deliver=False, Mode="notify")
    sweep = EmulatedSweep(stack)
    expected = ESTATE.build(account)
    assert len(expected) == 10_000
    injected = {"ListKnowledgeBases": 3, "ListDataSources": 40, "GetKnowledgeBase": 40, "GetDataSource": 80, "DescribeKey": 40}
    rules = {
        name: account.faults.add("kms" if name == "DescribeKey" else "bedrock-agent", name, Fault.THROTTLE, times=times)
        for name, times in injected.items()
    }
    calls_before = len(account.calls)
    # WHEN the sweep runs
    run = sweep.run(timeout=900)
    # THEN it completes with every data source evaluated exactly once, with its expected verdict
    assert run.status == "SUCCEEDED", run
    assert {name: rule.hits for name, rule in rules.items()} == injected, "every injected throttle was met"
    findings = sweep.findings()
    assert len(findings) == 10_000
    assert Counter(f["dataSourceId"] for f in findings).most_common(1)[0][1] == 1
    assert {f["dataSourceId"]: (f["knowledgeBaseId"], f["verdict"]) for f in findings} == expected
    totals = run.summary["totals"]
    wanted = Counter(verdict for _, verdict in expected.values())
    assert (totals["compliant"], totals["nonCompliant"], totals["skipped"], totals["unknown"]) == (
        wanted["COMPLIANT"], wanted["NON_COMPLIANT"], wanted["SKIPPED"], 0
    )
    assert (totals["knowledgeBases"], totals["failedKnowledgeBases"], totals["started"]) == (KNOWLEDGE_BASES, 0, NON_COMPLIANT)
    # ... no evaluation invocation handled more than one page of data sources
    evaluations = sweep.of("SweepEvaluateFunction")
    handled = [len(i.findings) for i in evaluations if not i.errored]
    assert max(handled) == DATA_SOURCE_PAGE and sum(handled) == 10_000
    assert all(len(i.findings) == 0 for i in evaluations if i.errored), "a failed invocation reports nothing"
    # ... and no start invocation was handed more than one page's non-compliant data sources
    handed = [len(i.event["input"]["pending"]) for i in sweep.of("SweepStartFunction")]
    assert handed and max(handed) <= DATA_SOURCE_PAGE
    # ... every list call was paged: 20 pages of 50 knowledge bases; two pages for each large knowledge base (a
    # retried evaluation lists its page again)
    sweep_calls = Counter(c.operation for c in account.calls[calls_before:] if c.service == "bedrock-agent" and c.fault is None)
    assert sweep_calls["ListKnowledgeBases"] == KNOWLEDGE_BASES // 50
    assert sweep_calls["ListDataSources"] >= KNOWLEDGE_BASES + KNOWLEDGE_BASES // LARGE_EVERY
    assert sum(1 for i in evaluations if len(i.findings) == 29 - DATA_SOURCE_PAGE) == KNOWLEDGE_BASES // LARGE_EVERY
    # ... and the sweep's own history stays far from the 25,000-event limit (the evaluations run as child executions)
    assert len(stack.history(run.execution_arn)) < 500
    # ... and the notify workflows it started each reported once
    pages = stack.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=stack.state_machine_arn)
    for execution in [e for page in pages for e in page["executions"]]:
        stack.wait(execution["executionArn"], 120)
    outcomes = Counter(o["outcome"] for o in stack.outcomes())
    assert outcomes == Counter({"NOTIFIED": NON_COMPLIANT})
