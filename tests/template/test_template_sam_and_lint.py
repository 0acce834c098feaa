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
    "HookFunction": "hook",  # the preventive CloudFormation hook (exists only when EnablePreventiveHook is on)
    "ProposeFunction": "propose",
    "KeyDenialsFunction": "denials",
}
# CloudFormation waits at most 30 seconds for a Lambda hook; the workflow steps keep the Globals timeout.
TIMEOUTS = {"HookFunction": 25}
# The approval page runs behind API Gateway: its own name, handler and a shorter timeout (a person waits for it).
PAGE_FUNCTION = ("ApprovalPageFunction", "approve", "approval_page")
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
    assert counts["AWS::Lambda::Function"] == 14
    assert counts["AWS::StepFunctions::StateMachine"] == 2
    assert counts["AWS::Events::Rule"] == 4  # data source changes (default and organization buses), KMS access errors, the sweep schedule
    assert counts["AWS::DynamoDB::Table"] == 1
    assert counts["AWS::SQS::Queue"] == 1, "SAM must not add its own DLQ: the template names RuleDeadLetterQueue"
    assert set(_of_type(transformed, "AWS::Lambda::Function")) == set(FUNCTIONS) | {PAGE_FUNCTION[0]} | set(SWEEP_FUNCTIONS)
    assert not [r["Type"] for r in transformed["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]


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


def _state_machine_rule(transformed: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((rule_id, rule),) = [
        (k, v)
        for k, v in _of_type(transformed, "AWS::Events::Rule").items()
        if v["Properties"]["Targets"][0]["Arn"] == {"Ref": "RemediateStateMachine"}
        and "EventBusName" not in v["Properties"]  # the default bus's rule (the organization bus has its own)
    ]
    return rule_id, rule


def test_rule_carries_the_exact_pattern_and_targets_the_state_machine(transformed: dict[str, Any]) -> None:
    rule_id, rule = _state_machine_rule(transformed)
    properties = rule["Properties"]
    assert properties["EventPattern"] == EXPECTED_PATTERN
    assert properties.get("State") == "ENABLED"
    assert "EventBusName" not in properties or properties["EventBusName"] == "default"
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": "RemediateStateMachine"}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


def test_organization_rule_has_the_same_pattern_on_the_organization_bus(transformed: dict[str, Any]) -> None:
    rule = transformed["Resources"]["OrganizationDataSourceRule"]
    assert rule["Condition"] == "IsOrganization"
    properties = rule["Properties"]
    assert properties["EventPattern"] == EXPECTED_PATTERN
    assert properties["EventBusName"] == {"Ref": "OrganizationEventBus"}
    assert properties["State"] == "ENABLED"
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": "RemediateStateMachine"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["OrganizationRuleRole", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    for logical_id in ("OrganizationEventBus", "OrganizationEventBusPolicy", "OrganizationRuleRole"):
        assert transformed["Resources"][logical_id]["Condition"] == "IsOrganization", logical_id
    role = transformed["Resources"]["OrganizationRuleRole"]["Properties"]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == (["states:StartExecution"], {"Ref": "RemediateStateMachine"})
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    # The trust names the rule by the ARN its fixed name gives it.
    source = trust["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith("rule/${AWS::StackName}-organization/cmk-guard-data-source-change")
    assert properties["Name"] == "cmk-guard-data-source-change"
    assert transformed["Resources"]["OrganizationEventBus"]["Properties"]["Name"] == {
        "Fn::Sub": "${AWS::StackName}-organization"
    }


def test_dead_letter_queue_accepts_only_this_rule(transformed: dict[str, Any]) -> None:
    rule_id, _ = _state_machine_rule(transformed)
    queue = transformed["Resources"]["RuleDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = _of_type(transformed, "AWS::SQS::QueuePolicy").values()
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    # The queue policy names the rule SAM generated (and the organization rule when there is one); renaming the
    # event would otherwise break delivery silently.
    sam_rule = {"Fn::GetAtt": [rule_id, "Arn"]}
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::If": ["IsOrganization", [sam_rule, {"Fn::GetAtt": ["OrganizationDataSourceRule", "Arn"]}], sam_rule]
    }


def test_functions_after_transform(transformed: dict[str, Any]) -> None:
    lambdas = _of_type(transformed, "AWS::Lambda::Function")
    page_id = PAGE_FUNCTION[0]
    for logical_id, short, handler in [(k, v, v) for k, v in FUNCTIONS.items()] + [PAGE_FUNCTION]:
        properties = lambdas[logical_id]["Properties"]
        assert properties["Handler"] == f"cmk_guard.handlers.{handler}.lambda_handler"
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["Timeout"] == (20 if logical_id == page_id else TIMEOUTS.get(logical_id, 60)) and properties["MemorySize"] == 256
        assert properties["Role"] == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
        assert properties["LoggingConfig"] == {"LogGroup": {"Ref": f"{logical_id}LogGroup"}}
        log_group = transformed["Resources"][f"{logical_id}LogGroup"]["Properties"]
        assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{short}"}
        assert properties["FunctionName"] == {"Fn::Sub": f"${{AWS::StackName}}-{short}"}
    reserved = {k: v["Properties"].get("ReservedConcurrentExecutions") for k, v in lambdas.items() if k not in SWEEP_FUNCTIONS}
    assert reserved == {k: {"ConfirmFunction": 1, "KeyFunction": 5, "KeyDenialsFunction": 2}.get(k) for k in [*FUNCTIONS, page_id]}


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
