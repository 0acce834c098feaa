"""The dashboard, the alarms, the ops topic's key and the KMS access-denied rule, read from template.yaml.

Every CmkGuard metric the dashboard or an alarm names must be in the catalogue (``cmk_guard.core.metrics``) with
exactly the dimensions the code emits (its own plus Powertools' ``service``); AWS metrics must be ones AWS publishes
with the dimensions named.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from cmk_guard.core import metrics
from cmk_guard.core.models import Outcome
from cmk_guard_local.template import event_rules, resolve

from .conftest import ACCOUNT_ID, REGION, ROOT
from .test_template_contract import fake_refs

AWS_METRICS = {
    ("AWS/States", "ExecutionsFailed"): {"StateMachineArn"},
    ("AWS/States", "ExecutionsTimedOut"): {"StateMachineArn"},
    ("AWS/States", "ExecutionsAborted"): {"StateMachineArn"},
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): {"QueueName"},
    ("AWS/Lambda", "Errors"): {"FunctionName"},
}
STATISTICS = {"Sum", "Average", "Minimum", "Maximum", "SampleCount"}
# Metrics another feature emits (they light up when it lands); every other catalogued metric must be emitted here.
OWED_BY_OTHER_FEATURES = {metrics.COMPLIANCE_RATIO: "the sweep"}
MATH_ID = re.compile(r"\b([a-z][A-Za-z0-9_]*)\b")
MATH_FUNCTIONS = {"RUNNING_SUM", "FILL"}


def refs(template: dict[str, Any]) -> dict[str, str]:
    values = fake_refs(template)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            values[f"{logical_id}.Arn"] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:cmk-guard-{logical_id}"
    values["RemediateStateMachine"] = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:cmk-guard-remediate"
    values["RuleDeadLetterQueue.QueueName"] = "cmk-guard-RuleDeadLetterQueue-1A2B3C"
    values["OpsTopicKey.Arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{uuid.UUID(int=1)}"
    return values


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def dashboard(template: dict[str, Any]) -> dict[str, Any]:
    ((_, resource),) = of_type(template, "AWS::CloudWatch::Dashboard").items()
    body = resolve(resource["Properties"]["DashboardBody"], refs(template))
    return json.loads(body)  # valid JSON once CloudFormation has substituted it


def dashboard_metrics(dashboard: dict[str, Any]) -> list[tuple[str, str, str, dict[str, str], dict[str, Any]]]:
    """(widget title, namespace, metric, dimensions, options) for every metric line of every metric widget."""
    found = []
    for widget in dashboard["widgets"]:
        if widget["type"] != "metric":
            continue
        for line in widget["properties"]["metrics"]:
            options = line[-1] if isinstance(line[-1], dict) else {}
            fields = line[:-1] if options else line
            if not fields:
                assert "expression" in options, widget["properties"]["title"]
                continue
            assert "." not in fields, "no '.' shorthand: every line names its metric in full"
            namespace, name, *pairs = fields
            assert len(pairs) % 2 == 0, fields
            found.append((widget["properties"]["title"], namespace, name, dict(zip(pairs[::2], pairs[1::2])), options))
    return found


def check_reference(template: dict[str, Any], namespace: str, name: str, dimensions: dict[str, Any]) -> None:
    """A metric reference matches what is emitted: a catalogued CmkGuard metric, or an AWS one."""
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    if namespace.startswith("AWS/"):
        assert (namespace, name) in AWS_METRICS, (namespace, name)
        assert set(dimensions) == AWS_METRICS[(namespace, name)], (name, dimensions)
        return
    assert namespace == metrics.NAMESPACE == environment["POWERTOOLS_METRICS_NAMESPACE"]
    spec = metrics.spec(name)
    assert set(dimensions) == {*spec.dimensions, metrics.SERVICE_DIMENSION}, (name, dimensions)
    assert dimensions[metrics.SERVICE_DIMENSION] == environment["POWERTOOLS_SERVICE_NAME"]
    for dimension in spec.dimensions:
        assert dimensions[dimension] in spec.allowed_values(dimension), (name, dimensions)


# -- dashboard --------------------------------------------------------------------------------------------------
def test_dashboard_metrics_exist_in_the_code_with_their_dimensions(template: dict[str, Any], dashboard: dict[str, Any]) -> None:
    references = dashboard_metrics(dashboard)
    assert len(references) >= 25
    for title, namespace, name, dimensions, options in references:
        check_reference(template, namespace, name, dimensions)
        stat = options.get("stat") or next(w["properties"].get("stat") for w in dashboard["widgets"]
                                           if w.get("properties", {}).get("title") == title)
        assert stat in STATISTICS or re.fullmatch(r"p\d{1,2}(\.\d+)?", str(stat)), (title, name, stat)


def test_every_catalogued_metric_is_emitted_by_the_code() -> None:
    # A catalogued metric is emitted when its constant is used outside the catalogue (MetricPoint refuses any
    # other name, unit or dimension, so the catalogue is what can be emitted).
    sources = [p for p in (ROOT / "functions" / "cmk_guard").rglob("*.py") if p.name != "metrics.py"]
    used = {
        node.attr
        for path in sources
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "metrics"
    }
    constants = {value: key for key, value in vars(metrics).items() if key.isupper() and isinstance(value, str)}
    for name in metrics.CATALOGUE:
        assert constants[name] in used or name in OWED_BY_OTHER_FEATURES, f"{name} is catalogued but never emitted"


def test_dashboard_shows_every_metric_every_outcome_and_both_denial_sources(dashboard: dict[str, Any]) -> None:
    references = dashboard_metrics(dashboard)
    assert {name for _, ns, name, _, _ in references if ns == metrics.NAMESPACE} == set(metrics.CATALOGUE)
    outcomes = {d["Outcome"] for _, _, name, d, _ in references if name == metrics.REMEDIATIONS}
    assert outcomes == {o.value for o in Outcome}
    sources = {d["Source"] for _, _, name, d, _ in references if name == metrics.KMS_ACCESS_DENIED}
    assert sources == {metrics.SOURCE_CLOUDTRAIL, metrics.SOURCE_INGESTION}
    mttr = {o.get("stat") for _, _, name, _, o in references if name == metrics.TIME_TO_REMEDIATE}
    assert {"p50", "p90", "Maximum"} <= mttr


def test_dashboard_expressions_use_ids_of_the_same_widget(dashboard: dict[str, Any]) -> None:
    seen = 0
    for widget in dashboard["widgets"]:
        if widget["type"] != "metric":
            continue
        lines = widget["properties"]["metrics"]
        ids = {line[-1]["id"] for line in lines if isinstance(line[-1], dict) and "id" in line[-1]}
        for line in lines:
            expression = line[-1].get("expression") if isinstance(line[-1], dict) else None
            if expression:
                seen += 1
                names = set(MATH_ID.findall(expression)) - {f.lower() for f in MATH_FUNCTIONS}
                assert names and names <= ids, (expression, ids)
    assert seen >= 1


def test_dashboard_widgets_name_their_region_and_the_stacks_resources(template: dict[str, Any], dashboard: dict[str, Any]) -> None:
    values = refs(template)
    for widget in dashboard["widgets"]:
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == REGION
    aws = {(name, tuple(d.values())) for _, ns, name, d, _ in dashboard_metrics(dashboard) if ns.startswith("AWS/")}
    assert ("ExecutionsFailed", (values["RemediateStateMachine"],)) in aws
    assert ("ApproximateNumberOfMessagesVisible", (values["RuleDeadLetterQueue.QueueName"],)) in aws
    assert ("Errors", (values["KeyDenialsFunction"],)) in aws
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(
        values[f"{a}.Arn"] for a in of_type(template, "AWS::CloudWatch::Alarm")
    )
    threshold = template["Parameters"]["ComplianceRatioAlarmThreshold"]["Default"]
    (ratio,) = [w for w in dashboard["widgets"] if "Compliance ratio" in w.get("properties", {}).get("title", "")]
    assert ratio["properties"]["annotations"]["horizontal"][0]["value"] == threshold


# -- alarms -----------------------------------------------------------------------------------------------------
def alarm_metrics(properties: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    if "MetricName" in properties:
        dimensions = {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])}
        return [(properties["Namespace"], properties["MetricName"], dimensions, properties["Statistic"])]
    found = []
    for query in properties["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            found.append((metric["Namespace"], metric["MetricName"], dimensions, query["MetricStat"]["Stat"]))
    return found


@pytest.fixture(scope="module")
def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in of_type(template, "AWS::CloudWatch::Alarm").items()}


def test_every_alarm_names_emitted_metrics_and_notifies_the_ops_topic(template: dict[str, Any], alarms: dict[str, Any]) -> None:
    assert len(alarms) == 6
    for logical_id, properties in alarms.items():
        for namespace, name, dimensions, stat in alarm_metrics(properties):
            check_reference(template, namespace, name, dimensions)
            assert stat in STATISTICS
        assert properties["AlarmActions"] == [{"Ref": "OpsTopic"}], logical_id
        # The ops topic and its key let CloudWatch publish for alarms named after the stack only.
        assert properties["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-"), logical_id
        assert properties["TreatMissingData"] in {"notBreaching", "ignore"}, logical_id
        if "Metrics" in properties:
            returned = [q for q in properties["Metrics"] if q.get("ReturnData", True)]
            assert len(returned) == 1 and "Expression" in returned[0], logical_id
            ids = {q["Id"] for q in properties["Metrics"] if "MetricStat" in q}
            assert set(MATH_ID.findall(returned[0]["Expression"])) - {"fill"} == ids, logical_id


def _watches(properties: dict[str, Any]) -> list[str]:
    """What an alarm watches, canonically: each metric with its dimensions (service left out)."""
    return sorted(
        json.dumps([name, {k: v for k, v in d.items() if k != "service"}], sort_keys=True)
        for _, name, d, _ in alarm_metrics(properties)
    )


STATE_MACHINE = {"StateMachineArn": {"Ref": "RemediateStateMachine"}}


@pytest.mark.parametrize(
    ("watched", "operator", "threshold"),
    [
        ([("Remediations", {"Outcome": "FAILED"})], "GreaterThanThreshold", 0),
        ([("Remediations", {"Outcome": "REMEDIATED_UNVERIFIED"})], "GreaterThanThreshold", {"Ref": "UnverifiedAlarmThreshold"}),
        ([("KmsAccessDenied", {"Source": "CloudTrail"}), ("KmsAccessDenied", {"Source": "Ingestion"})], "GreaterThanThreshold", 0),
        ([("ApproximateNumberOfMessagesVisible", {"QueueName": {"Fn::GetAtt": ["RuleDeadLetterQueue", "QueueName"]}})],
         "GreaterThanThreshold", 0),
        ([("ExecutionsFailed", STATE_MACHINE), ("ExecutionsTimedOut", STATE_MACHINE)], "GreaterThanThreshold", 0),
        ([("ComplianceRatio", {})], "LessThanThreshold", {"Ref": "ComplianceRatioAlarmThreshold"}),
    ],
)
def test_the_alarms_the_operators_asked_for(alarms: dict[str, Any], watched: list, operator: str, threshold: Any) -> None:
    wanted = sorted(json.dumps([name, dims], sort_keys=True) for name, dims in watched)
    matching = [p for p in alarms.values() if _watches(p) == wanted]
    assert len(matching) == 1, f"no single alarm watches {watched}"
    assert (matching[0]["ComparisonOperator"], matching[0]["Threshold"]) == (operator, threshold)


def test_alarm_thresholds_are_parameters_a_deployer_can_set(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert (parameters["UnverifiedAlarmThreshold"]["Type"], parameters["UnverifiedAlarmThreshold"]["MinValue"]) == ("Number", 0)
    ratio = parameters["ComplianceRatioAlarmThreshold"]
    assert (ratio["MinValue"], ratio["MaxValue"]) == (0, 1) and 0 < ratio["Default"] <= 1


# -- the ops topic's key ----------------------------------------------------------------------------------------
def test_ops_topic_key_lets_only_sns_and_this_stacks_alarms_encrypt(template: dict[str, Any]) -> None:
    key = template["Resources"]["OpsTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in resolve(key["KeyPolicy"], refs(template))["Statement"]}
    root = {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    crypto = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant"}
    admin = statements["KeyAdministration"]
    assert admin["Principal"] == root and not set(admin["Action"]) & crypto
    publishers = statements["PublishersThroughSns"]
    assert publishers["Principal"] == root and set(publishers["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert publishers["Condition"] == {
        "StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT_ID}
    }
    alarms = statements["AlarmsOfThisStack"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(alarms["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert alarms["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:cmk-guard-*"},
    }
    assert len(statements) == 3 and all(s["Effect"] == "Allow" and s["Resource"] == "*" for s in statements.values())


def test_only_the_topics_publishers_may_use_its_key(template: dict[str, Any], transformed: dict[str, Any]) -> None:
    key_arn = {"Fn::GetAtt": ["OpsTopicKey", "Arn"]}
    users = set()
    for logical_id, resource in transformed["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement.get("Resource") == key_arn:
                    users.add(logical_id)
                    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert users == {"RecordFunctionRole", "RemediateStateMachineRole"}


# -- the KMS access-denied rule ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def denied_rule(template: dict[str, Any]) -> dict[str, Any]:
    (rule,) = [r for r in event_rules(template) if r["target"] == "KeyDenialsFunction"]
    return rule


def kms_event(**detail: Any) -> dict[str, Any]:
    record = {
        "eventSource": "kms.amazonaws.com", "eventName": "GenerateDataKey", "errorCode": "AccessDenied",
        "readOnly": True, "eventID": str(uuid.uuid4()), "awsRegion": REGION,
    }
    record.update(detail)
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail", "source": "aws.kms",
            "account": ACCOUNT_ID, "time": "2026-11-29T06:00:00Z", "region": REGION, "resources": [], "detail": record}


@pytest.mark.parametrize(
    ("event", "delivered"),
    [
        (kms_event(), True),
        (kms_event(errorCode="AccessDeniedException", eventName="Decrypt"), True),
        (kms_event(eventName="PutKeyPolicy", readOnly=False), True),
        (kms_event(errorCode="DisabledException"), False),
        (kms_event(errorCode=None), False),
        ({**kms_event(), "detail": {k: v for k, v in kms_event()["detail"].items() if k != "errorCode"}}, False),
        (kms_event(eventName="ListAliases"), False),  # the function's own look-up can never feed back
        ({**kms_event(), "source": "aws.bedrock"}, False),
        (kms_event(eventSource="bedrock.amazonaws.com"), False),
    ],
)
def test_the_rule_takes_kms_access_errors_only(denied_rule: dict[str, Any], event: dict[str, Any], delivered: bool) -> None:
    assert EventPattern.load(json.dumps(denied_rule["pattern"])).matches_event(event) is delivered


def test_the_rule_receives_read_only_events_and_only_it_invokes_the_function(template: dict[str, Any], denied_rule: dict[str, Any]) -> None:
    # GenerateDataKey and Decrypt are read-only management events: an ENABLED rule never sees them.
    assert denied_rule["state"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    rule = template["Resources"][denied_rule["id"]]["Properties"]
    assert "EventBusName" not in rule  # CloudTrail events reach the default bus only
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["KeyDenialsFunction", "Arn"]}
    (permission,) = of_type(template, "AWS::Lambda::Permission").values()
    assert permission["Properties"] == {
        "Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": ["KeyDenialsFunction", "Arn"]},
        "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [denied_rule["id"], "Arn"]},
    }


def test_readme_documents_every_metric() -> None:
    readme = (Path(ROOT) / "README.md").read_text()
    for name in metrics.CATALOGUE:
        assert f"| `{name}`" in readme, f"README's metric table lacks {name}"
