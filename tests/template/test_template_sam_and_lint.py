"""The template transforms with aws-sam-translator into the expected resources, and cfn-lint finds nothing."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .conftest import TEMPLATE_PATH

FUNCTIONS = {
    "CheckFunction": "check",
    "KeyFunction": "key",
    "ApplyFunction": "apply",
    "IngestFunction": "ingest",
    "ConfirmFunction": "confirm",
    "RecordFunction": "record",
}
SWEEP_FUNCTIONS = {
    "SweepListFunction": "sweep_list",
    "SweepEvaluateFunction": "sweep_evaluate",
    "SweepStartFunction": "sweep_start",
    "SweepReportFunction": "sweep_report",
}
# The rule's pattern, exactly as the contract states it (the prefix stays a Fn::Sub until deployment).
EXPECTED_PATTERN = {
    "source": ["aws.bedrock"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["bedrock.amazonaws.com"],
        "eventName": ["CreateDataSource", "UpdateDataSource"],
        "errorCode": [{"exists": False}],
        "userIdentity": {
            "arn": [
                {
                    "anything-but": {
                        "prefix": {
                            "Fn::Sub": "arn:${AWS::Partition}:sts::${AWS::AccountId}:assumed-role/${ApplyFunctionRole}/"
                        }
                    }
                }
            ]
        },
    },
}


def _of_type(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in document["Resources"].items() if v["Type"] == kind}


def test_transform_yields_the_expected_resources(transformed: dict[str, Any]) -> None:
    counts = Counter(resource["Type"] for resource in transformed["Resources"].values())
    assert counts["AWS::Lambda::Function"] == 6 + 4
    assert counts["AWS::StepFunctions::StateMachine"] == 2
    assert counts["AWS::Events::Rule"] == 2, "the data-source rule and the sweep's schedule"
    assert counts["AWS::DynamoDB::Table"] == 1
    assert counts["AWS::SQS::Queue"] == 1, "SAM must not add its own DLQ: the template names RuleDeadLetterQueue"
    assert set(_of_type(transformed, "AWS::Lambda::Function")) == set(FUNCTIONS) | set(SWEEP_FUNCTIONS)
    assert not [r["Type"] for r in transformed["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]


def _remediate_rule(transformed: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rules = _of_type(transformed, "AWS::Events::Rule").items()
    (found,) = [(k, r) for k, r in rules if r["Properties"]["Targets"][0]["Arn"] == {"Ref": "RemediateStateMachine"}]
    return found


def test_state_machine_is_standard_traced_and_logs_errors_without_data(transformed: dict[str, Any]) -> None:
    properties = _of_type(transformed, "AWS::StepFunctions::StateMachine")["RemediateStateMachine"]["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    assert logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["RemediateStateMachineLogGroup", "Arn"]
    }
    assert properties["DefinitionS3Location"]["Key"].endswith("remediate.asl.json")


def test_rule_carries_the_exact_pattern_and_targets_the_state_machine(transformed: dict[str, Any]) -> None:
    rule_id, rule = _remediate_rule(transformed)
    properties = rule["Properties"]
    assert properties["EventPattern"] == EXPECTED_PATTERN
    assert properties.get("State") == "ENABLED"
    assert "EventBusName" not in properties or properties["EventBusName"] == "default"
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": "RemediateStateMachine"}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


def test_dead_letter_queue_accepts_only_this_rule(transformed: dict[str, Any]) -> None:
    rule_id, _ = _remediate_rule(transformed)
    queue = transformed["Resources"]["RuleDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = _of_type(transformed, "AWS::SQS::QueuePolicy").values()
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    # The queue policy names the rule SAM generated; renaming the event would otherwise break delivery silently.
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}


def test_functions_after_transform(transformed: dict[str, Any]) -> None:
    lambdas = _of_type(transformed, "AWS::Lambda::Function")
    for logical_id, short in FUNCTIONS.items():
        properties = lambdas[logical_id]["Properties"]
        assert properties["Handler"] == f"cmk_guard.handlers.{short}.lambda_handler"
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["Timeout"] == 60 and properties["MemorySize"] == 256
        assert properties["Role"] == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
        assert properties["LoggingConfig"] == {"LogGroup": {"Ref": f"{logical_id}LogGroup"}}
        log_group = transformed["Resources"][f"{logical_id}LogGroup"]["Properties"]
        assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{short}"}
        assert properties["FunctionName"] == {"Fn::Sub": f"${{AWS::StackName}}-{short}"}
    reserved = {k: v["Properties"].get("ReservedConcurrentExecutions") for k, v in lambdas.items() if k in FUNCTIONS}
    assert reserved == {k: (1 if k == "ConfirmFunction" else None) for k in FUNCTIONS}


def test_cfn_lint_passes_with_informational_checks(cfn_lint_run: Any) -> None:
    assert cfn_lint_run.returncode == 0, (
        f"cfn-lint exit {cfn_lint_run.returncode} (bitmask: 2 errors, 4 warnings, 8 info):\n"
        f"{cfn_lint_run.stdout}{cfn_lint_run.stderr}"
    )
    assert cfn_lint_run.stdout.strip() == ""


def _ignored_checks(template: dict[str, Any]) -> list[str]:
    found: list[str] = []
    sections = [template.get("Metadata") or {}] + [r.get("Metadata") or {} for r in template["Resources"].values()]
    for metadata in sections:
        config = (metadata.get("cfn-lint") or {}).get("config") or {}
        found.extend(config.get("ignore_checks") or [])
    return found


def test_every_ignored_cfn_lint_rule_is_justified_in_a_comment(template: dict[str, Any]) -> None:
    text = TEMPLATE_PATH.read_text()
    comments = "\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
    for check in _ignored_checks(template):
        assert re.search(rf"\b{re.escape(check)}\b\s*[:-]\s*\S", comments), (
            f"cfn-lint rule {check} is ignored without a '# {check}: why' comment"
        )
