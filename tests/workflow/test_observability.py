"""After a demo-like run (the showcase, through the real state machine), the metrics tell what the ledger holds.

The functions' output lands in the emulated CloudWatch Logs; every EMF record there must parse against the EMF
specification, and its values must be the ledger's: outcome counts, MTTR and time-to-verify samples computed from
each record's own timestamps, denials. The alarms and the dashboard must name exactly what was emitted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from cmk_guard.core import metrics
from cmk_guard_local.emf import Datum, parse_record
from cmk_guard_local.report import collect, render_table
from cmk_guard_local.showcase import DELIVERY_DELAYS, emulated_showcase
from cmk_guard_local.template import functions, resolve

from ..template.test_template_observability import alarm_metrics, dashboard_metrics

SERVICE = "cmk-guard"


def seconds(start: str, end: str) -> float:
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def deployed_refs(stack: Any) -> dict[str, str]:
    """The stack's references, plus what the emulated stack does not create (alarms, the dead-letter queue)."""
    refs = {**stack.refs, "RemediateStateMachine": stack.state_machine_arn, "RuleDeadLetterQueue.QueueName": "dlq"}
    for logical_id, resource in stack.template["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            refs[f"{logical_id}.Arn"] = f"arn:aws:cloudwatch:{stack.region}:{stack.account_id}:alarm:{logical_id}"
    return refs


@pytest.fixture(scope="module")
def run() -> Iterator[SimpleNamespace]:
    with emulated_showcase() as (account, stack):
        logs = boto3.client("logs", region_name=account.region)
        lines: dict[str, list[str]] = {}
        for logical_id, function in stack.functions.items():
            group = stack.logs.log_group(function.name)
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
            lines[logical_id] = [event["message"] for page in pages for event in page["events"]]
        kms = boto3.client("kms", region_name=account.region)
        aliases = {a["TargetKeyId"]: a["AliasName"] for a in kms.list_aliases()["Aliases"] if "TargetKeyId" in a}
        yield SimpleNamespace(
            account=account, stack=stack, outcomes=stack.outcomes(), lines=lines, aliases=aliases,
            trail=list(account.cloudtrail.events), invocations=list(stack.invocations), report=collect(stack),
            template=stack.template, refs=deployed_refs(stack),
        )


@pytest.fixture(scope="module")
def data(run: SimpleNamespace) -> dict[str, list[Datum]]:
    """Every datum of every EMF record, per function; a record that breaks the specification fails here."""
    parsed: dict[str, list[Datum]] = {}
    for logical_id, lines in run.lines.items():
        for line in lines:
            record = parse_record(line)
            if record is not None:
                parsed.setdefault(logical_id, []).extend(record)
    return parsed


def values(data: dict[str, list[Datum]], name: str, **dimensions: str) -> list[float]:
    wanted = {**dimensions, metrics.SERVICE_DIMENSION: SERVICE}
    return [v for datums in data.values() for d in datums if d.name == name and d.dimension_map == wanted for v in d.values]


def test_the_showcase_ran_every_path(run: SimpleNamespace) -> None:
    counts = Counter(o["outcome"] for o in run.outcomes)
    assert counts == {"REMEDIATED_VERIFIED": len(DELIVERY_DELAYS), "ALREADY_COMPLIANT": 1, "SKIPPED": 1, "NOTIFIED": 1,
                      "FAILED": 1, "REMEDIATED_UNVERIFIED": 1}


def test_emf_records_follow_the_specification_and_only_the_metric_emitters_emit(run: SimpleNamespace, data: dict) -> None:
    assert set(data) == {"RecordFunction", "KeyDenialsFunction"}
    emf_lines = [line for lines in run.lines.values() for line in lines if '"_aws"' in line]
    assert len(emf_lines) == sum(len(d) for d in data.values()), "one datum per record (one metric, one dimension set)"
    for datum in (d for datums in data.values() for d in datums):
        spec = metrics.spec(datum.name)
        assert datum.namespace == metrics.NAMESPACE and datum.unit == spec.unit
        assert set(datum.dimension_map) == {*spec.dimensions, metrics.SERVICE_DIMENSION}
        assert datum.dimension_map[metrics.SERVICE_DIMENSION] == SERVICE


def test_outcome_counts_match_the_ledger(run: SimpleNamespace, data: dict) -> None:
    ledger = Counter(o["outcome"] for o in run.outcomes)
    emitted = Counter({outcome: int(sum(values(data, "Remediations", Outcome=outcome))) for outcome in ledger})
    assert emitted == ledger
    non_compliant = sum(1 for o in run.outcomes if (o.get("check") or {}).get("verdict") == "NON_COMPLIANT")
    assert sum(values(data, "NonCompliantDetected")) == non_compliant == 11


def test_times_match_the_ledgers_timestamps(run: SimpleNamespace, data: dict) -> None:
    applied = [seconds(o["target"]["eventTime"], o["apply"]["appliedAt"]) for o in run.outcomes
               if (o.get("apply") or {}).get("applied")]
    verified = [seconds(o["target"]["eventTime"], o["verification"]["foundAt"]) for o in run.outcomes
                if (o.get("verification") or {}).get("found")]
    assert sorted(values(data, "TimeToRemediateSeconds")) == pytest.approx(sorted(applied), abs=1e-6)
    assert sorted(values(data, "TimeToVerifySeconds")) == pytest.approx(sorted(verified), abs=1e-6)
    assert len(applied) == len(DELIVERY_DELAYS) + 2 and len(verified) == len(DELIVERY_DELAYS)
    # The late deliveries show: each remediated data source's MTTR is at least its delivery delay.
    late = sorted(values(data, "TimeToRemediateSeconds"))[-len(DELIVERY_DELAYS):]
    assert all(mttr >= delay for mttr, delay in zip(late, sorted(DELIVERY_DELAYS), strict=True))


def test_kms_denials_from_ingestion_and_from_cloudtrail(run: SimpleNamespace, data: dict) -> None:
    failed_on_key = [o for o in run.outcomes if (o.get("ingestion") or {}).get("kmsFailure")]
    assert len(failed_on_key) == 1 and failed_on_key[0]["outcome"] == "FAILED"
    assert values(data, "KmsAccessDenied", Source="Ingestion") == [1.0]
    # Every access error CloudTrail recorded on a cmk-guard key reached the denials function and was counted once.
    key_arn = failed_on_key[0]["key"]["keyArn"]
    refused = [r for r in run.trail if r.get("eventSource") == "kms.amazonaws.com"
               and str(r.get("errorCode", "")).startswith("AccessDenied")]
    on_ours = [r for r in refused if run.aliases.get(r["resources"][0]["ARN"].rsplit("/", 1)[-1], "").startswith("alias/cmk-guard/")]
    assert on_ours and {r["resources"][0]["ARN"] for r in on_ours} == {key_arn}
    assert sum(values(data, "KmsAccessDenied", Source="CloudTrail")) == len(on_ours)
    counted = [i.result for i in run.invocations if not i.errored and i.result["counted"]]
    assert sorted(c["eventId"] for c in counted) == sorted(r["eventID"] for r in on_ours)


def _emitted(data: dict, namespace: str, name: str, dimensions: dict[str, Any]) -> list[float]:
    return [v for datums in data.values() for d in datums
            if (d.namespace, d.name, d.dimension_map) == (namespace, name, dimensions) for v in d.values]


def test_alarm_metrics_are_the_emitted_ones_and_fire_on_this_run(run: SimpleNamespace, data: dict) -> None:
    fired = {}
    for logical_id, resource in run.template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resolve(resource["Properties"], run.refs)
        sums = [sum(_emitted(data, ns, name, dims)) for ns, name, dims, _ in alarm_metrics(properties)
                if ns == metrics.NAMESPACE]
        if sums:  # our metrics (AWS/* metrics are CloudWatch's own)
            fired[logical_id] = sum(sums) > float(properties["Threshold"])
    assert fired == {
        "FailedRemediationsAlarm": True,  # the key that refused its knowledge base
        "UnverifiedRemediationsAlarm": False,  # one, the threshold is two
        "KmsAccessDeniedAlarm": True,
        "ComplianceRatioAlarm": False,  # no sweep, no data: the alarm stays as it is
    }


def test_dashboard_lines_find_the_emitted_data(run: SimpleNamespace, data: dict) -> None:
    body = json.loads(resolve(run.template["Resources"]["Dashboard"]["Properties"]["DashboardBody"], run.refs))
    ours = [(name, dims) for _, ns, name, dims, _ in dashboard_metrics(body) if ns == metrics.NAMESPACE]
    emitted = {(d.name, json.dumps(d.dimension_map, sort_keys=True)) for datums in data.values() for d in datums}
    shown = {(name, json.dumps(dims, sort_keys=True)) for name, dims in ours}
    assert emitted <= shown, f"emitted but not on the dashboard: {emitted - shown}"


def test_the_report_reads_the_same_figures(run: SimpleNamespace) -> None:
    report = run.report
    assert (report.compliance["compliant"], report.compliance["evaluated"]) == (10, 12)  # SKIPPED is not evaluated
    assert report.outcomes == report.metric_outcomes == dict(Counter(o["outcome"] for o in run.outcomes))
    applied = sorted(seconds(o["target"]["eventTime"], o["apply"]["appliedAt"]) for o in run.outcomes
                     if (o.get("apply") or {}).get("applied"))
    assert sorted(report.time_to_remediate.samples) == pytest.approx(applied, abs=1e-6)
    assert report.time_to_remediate.summary()["max"] == pytest.approx(applied[-1], abs=1e-6)
    assert report.kms_access_denied == {"CloudTrail": 1, "Ingestion": 1}
    assert "83.3% (10 of 12 data sources)" in render_table(report)


def test_workflow_logs_stay_out_of_band(run: SimpleNamespace) -> None:
    # The runtime writes the logs into moto directly: no CreateLogStream/PutLogEvents by cmk-guard's roles.
    roles = set(run.stack.role_arns.values())
    assert not [c for c in run.account.calls if c.service == "logs" and c.principal in roles]
    assert all(run.lines[name] for name in ("CheckFunction", "RecordFunction", "KeyDenialsFunction"))
    # Each function writes where its LoggingConfig in template.yaml points (the stack is named cmk-guard).
    groups = {logical_id: run.stack.logs.log_group(f.name) for logical_id, f in run.stack.functions.items()}
    assert groups["RecordFunction"] == "/aws/lambda/cmk-guard-record"
    assert groups["KeyDenialsFunction"] == "/aws/lambda/cmk-guard-denials"
    assert len(set(groups.values())) == len(groups) == len(functions(run.stack.template))
