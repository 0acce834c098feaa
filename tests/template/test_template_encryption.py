"""Encryption at rest and retention: every log group on the stack's logs key, which only CloudWatch Logs may use."""

from __future__ import annotations

from typing import Any

from cmk_guard.core.key_policy import ADMIN_ACTIONS
from cmk_guard_local.template import load_template, resolve

from .conftest import ROOT
from .test_template_contract import fake_refs

USE_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
               "kms:GenerateDataKeyWithoutPlaintext"}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in template["Resources"]["LogsKey"]["Properties"]["KeyPolicy"]["Statement"]}


def test_every_log_group_has_retention_and_the_logs_key(template: dict[str, Any]) -> None:
    groups = _of_type(template, "AWS::Logs::LogGroup")
    assert len(groups) >= 7
    for logical_id, group in groups.items():
        properties = group["Properties"]
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id
        assert properties["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}, logical_id


def test_the_logs_key_serves_exactly_this_stacks_log_groups(template: dict[str, Any]) -> None:
    refs = fake_refs(template)
    region, account = refs["AWS::Region"], refs["AWS::AccountId"]
    names = {resolve(g["Properties"]["LogGroupName"], refs) for g in _of_type(template, "AWS::Logs::LogGroup").values()}
    logs = _statements(template)["CloudWatchLogsForThisStacksLogGroups"]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    assert set(logs["Action"]) == USE_ACTIONS
    (context,) = logs["Condition"]["StringEquals"].items()
    assert context[0] == "kms:EncryptionContext:aws:logs:arn"
    allowed = {resolve(arn, refs) for arn in context[1]}
    # A log group added to the template must be added to the key policy too, or CloudWatch Logs cannot use the key.
    assert allowed == {f"arn:aws:logs:{region}:{account}:log-group:{name}" for name in names}


def test_the_logs_key_rotates_and_nobody_else_can_use_it(template: dict[str, Any]) -> None:
    properties = template["Resources"]["LogsKey"]["Properties"]
    assert properties["EnableKeyRotation"] is True and properties["RotationPeriodInDays"] == 365
    statements = _statements(template)
    assert set(statements) == {"KeyAdministration", "CloudWatchLogsForThisStacksLogGroups"}
    admin = statements["KeyAdministration"]
    assert admin["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert set(admin["Action"]) == set(ADMIN_ACTIONS), "administration only: the same list as cmk-guard's keys"
    assert not set(admin["Action"]) & (USE_ACTIONS | {"kms:CreateGrant", "kms:*"})


def test_stores_are_encrypted(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["LedgerTable"]["Properties"]["SSESpecification"] == {"SSEEnabled": True}  # aws/dynamodb
    # Alarms publish to the ops topic, which AWS services can only do under a customer-managed key.
    assert resources["OpsTopic"]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["OpsTopicKey", "Arn"]}
    assert resources["ApprovalTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    member = load_template(ROOT / "member.yaml")
    queues = {**_of_type(template, "AWS::SQS::Queue"), **_of_type(member, "AWS::SQS::Queue")}
    assert len(queues) == 2
    assert all(q["Properties"]["SqsManagedSseEnabled"] is True for q in queues.values())
