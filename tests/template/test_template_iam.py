"""Least privilege: each role's exact actions, no service wildcards, Resource "*" only where nothing narrower exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re

import pytest

from cmk_guard_local.template import resolve

from .conftest import TEMPLATE_PATH
from .test_template_contract import fake_refs

# "- service:Action  # why" inside an Action list of template.yaml
ACTION_LINE = re.compile(r"^\s*- ([a-z0-9-]+:[A-Za-z*]+)\s*(#.*)?$")

LAMBDA_ROLES = {
    "CheckFunctionRole": "CheckFunctionLogGroup",
    "KeyFunctionRole": "KeyFunctionLogGroup",
    "ApplyFunctionRole": "ApplyFunctionLogGroup",
    "IngestFunctionRole": "IngestFunctionLogGroup",
    "ConfirmFunctionRole": "ConfirmFunctionLogGroup",
    "RecordFunctionRole": "RecordFunctionLogGroup",
    "HookFunctionRole": "HookFunctionLogGroup",
    "ProposeFunctionRole": "ProposeFunctionLogGroup",
    "ApprovalPageFunctionRole": "ApprovalPageFunctionLogGroup",
    "KeyDenialsFunctionRole": "KeyDenialsFunctionLogGroup",
    "SweepListFunctionRole": "SweepListFunctionLogGroup",
    "SweepEvaluateFunctionRole": "SweepEvaluateFunctionLogGroup",
    "SweepStartFunctionRole": "SweepStartFunctionLogGroup",
    "SweepReportFunctionRole": "SweepReportFunctionLogGroup",
}
COMMON = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Steps that act in member accounts assume their member role there (only with OrganizationId).
MEMBER = {"sts:AssumeRole"}
# What each step calls (functions/cmk_guard/adapters and steps), and nothing else.
EXPECTED_ACTIONS = {
    "CheckFunctionRole": COMMON
    | {
        "bedrock:GetKnowledgeBase",
        "bedrock:ListTagsForResource",
        "bedrock:GetDataSource",
        "bedrock:ListDataSources",
        "kms:DescribeKey",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
    }
    | MEMBER,
    "KeyFunctionRole": COMMON
    | MEMBER
    | {
        "kms:CreateKey",
        "kms:TagResource",
        "kms:CreateAlias",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    },
    "ApplyFunctionRole": COMMON
    | {"bedrock:GetDataSource", "bedrock:UpdateDataSource", "kms:DescribeKey", "dynamodb:PutItem"}
    | MEMBER,
    "IngestFunctionRole": COMMON | MEMBER | {"bedrock:StartIngestionJob", "bedrock:GetIngestionJob"},
    "ConfirmFunctionRole": COMMON | MEMBER | {"cloudtrail:LookupEvents"},
    # SNS encrypts what the record step publishes with the ops topic's customer-managed key.
    "RecordFunctionRole": COMMON
    | {"dynamodb:PutItem", "dynamodb:DeleteItem", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"},
    # Only on the way to a refusal: is the knowledge base MANAGED or tagged exempt?
    "HookFunctionRole": COMMON | {"bedrock:GetKnowledgeBase", "bedrock:ListTagsForResource"},
    "ProposeFunctionRole": COMMON | {"kms:DescribeKey", "dynamodb:PutItem", "sns:Publish"},
    "ApprovalPageFunctionRole": COMMON | {"dynamodb:GetItem", "dynamodb:UpdateItem", "states:SendTaskSuccess"},
    "KeyDenialsFunctionRole": COMMON | {"kms:ListAliases"},
    # The sweep: list, evaluate (reads only), start (ledger reads and the remediate workflow), report (EMF only).
    "SweepListFunctionRole": COMMON | {"bedrock:ListKnowledgeBases"},
    "SweepEvaluateFunctionRole": COMMON
    | {
        "bedrock:ListDataSources",
        "bedrock:GetKnowledgeBase",
        "bedrock:ListTagsForResource",
        "bedrock:GetDataSource",
        "kms:DescribeKey",
    },
    "SweepStartFunctionRole": COMMON | {"dynamodb:GetItem", "dynamodb:Query", "states:StartExecution"},
    "SweepReportFunctionRole": COMMON,
}
# Actions that IAM cannot scope to a resource (or, for DescribeKey, any key by design), allowed with Resource "*".
STAR_RESOURCE_ACTIONS = {
    "kms:CreateKey",  # the key does not exist yet
    "kms:DescribeKey",  # the check step describes whatever key a data source names
    "kms:TagResource",  # tags sent with CreateKey
    "cloudtrail:LookupEvents",  # no resource-level permissions
    "states:SendTaskSuccess",  # no resource types: the task token is the capability
    "kms:ListAliases",  # no resource-level permissions (the denials function reads a key's aliases)
    "bedrock:ListKnowledgeBases",  # lists the account's knowledge bases: no resource type
    "xray:PutTraceSegments",  # X-Ray has no resource types
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    # Step Functions' vended log delivery (the CloudWatch Logs delivery APIs take no resource)
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
FORBIDDEN_ACTIONS = {"*", "*:*", "kms:*", "bedrock:*"}
KB_ARN = {"Fn::Sub": "arn:${AWS::Partition}:bedrock:*:${AWS::AccountId}:knowledge-base/*"}
MANAGED = {"StringEquals": {"aws:ResourceTag/cmk-guard:managed": "true"}}


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _branches(item: Any) -> Iterator[dict[str, Any]]:
    """A statement, or both sides of a Fn::If around one (AWS::NoValue dropped)."""
    if isinstance(item, dict) and set(item) == {"Fn::If"}:
        for branch in item["Fn::If"][1:]:
            yield from _branches(branch)
    elif isinstance(item, dict) and item != {"Ref": "AWS::NoValue"}:
        yield item


def all_statements(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy statement anywhere in a template: identity, trust, topic, queue and SAM-generated policies."""
    if isinstance(node, dict):
        statements = node.get("Statement")
        if isinstance(statements, dict) and "Effect" in statements:  # AWS::Events::EventBusPolicy: one statement
            statements = [statements]
        if isinstance(statements, list):
            for item in statements:
                for statement in _branches(item):
                    yield where, statement
        for key, value in node.items():
            yield from all_statements(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from all_statements(value, f"{where}[{index}]")


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [s for policy in policies for item in policy["PolicyDocument"]["Statement"] for s in _branches(item)]


def role_actions(template: dict[str, Any], role: str) -> set[str]:
    return {a for s in role_statements(template, role) if s["Effect"] == "Allow" for a in _listify(s["Action"])}


@pytest.fixture(params=["template", "transformed"])
def document(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue(request.param)


def test_statements_are_found(document: dict[str, Any]) -> None:
    assert len(list(all_statements(document))) > 30


def test_no_service_wide_or_global_wildcard_actions(document: dict[str, Any]) -> None:
    for where, statement in all_statements(document):
        actions = set(_listify(statement.get("Action", [])))
        assert not actions & FORBIDDEN_ACTIONS, f"{where}: {sorted(actions & FORBIDDEN_ACTIONS)}"
        if statement["Effect"] == "Allow":
            assert not [a for a in actions if "*" in a], f"{where}: wildcard action in an Allow: {sorted(actions)}"
        assert "NotAction" not in statement and "NotResource" not in statement, where


def test_star_resource_only_for_actions_without_resource_level_permissions(document: dict[str, Any]) -> None:
    checked = 0
    for where, statement in all_statements(document):
        if statement["Effect"] != "Allow" or "Resource" not in statement:
            continue
        if "/KeyPolicy" in where:  # in a key policy "*" means the key itself (test_template_encryption checks them)
            continue
        if "*" in _listify(statement["Resource"]):
            checked += 1
            actions = set(_listify(statement["Action"]))
            assert actions <= STAR_RESOURCE_ACTIONS, f"{where}: {sorted(actions - STAR_RESOURCE_ACTIONS)} on '*'"
    assert checked >= 7, "every Lambda role has an X-Ray statement on '*'"


def test_no_allow_statement_grants_to_everyone(document: dict[str, Any]) -> None:
    found_org_bus = False
    for where, statement in all_statements(document):
        if statement["Effect"] == "Allow" and statement.get("Principal") in ("*", {"AWS": "*"}):
            # The one exception: the organization bus, for the organization's member forwarding roles only.
            assert where.startswith("/Resources/OrganizationEventBusPolicy"), where
            assert statement["Action"] == "events:PutEvents"
            assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
            assert statement["Condition"]["ArnLike"] == {
                "aws:PrincipalArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRolePrefix}-forward-*"}
            }
            found_org_bus = True
    assert found_org_bus


@pytest.mark.parametrize("role", sorted(LAMBDA_ROLES))
def test_each_role_has_exactly_the_actions_its_step_calls(template: dict[str, Any], role: str) -> None:
    assert role_actions(template, role) == EXPECTED_ACTIONS[role]


@pytest.mark.parametrize("role", sorted(LAMBDA_ROLES))
def test_lambda_roles_trust_lambda_in_this_account_and_use_inline_policies(template: dict[str, Any], role: str) -> None:
    properties = template["Resources"][role]["Properties"]
    (trust,) = properties["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert not properties.get("ManagedPolicyArns")
    assert "RoleName" not in properties, "a fixed role name would need CAPABILITY_NAMED_IAM"
    statements = role_statements(template, role)
    assert all("Sid" in s for s in statements)
    logs = [s for s in statements if any(str(a).startswith("logs:") for a in _listify(s["Action"]))]
    assert [s["Resource"] for s in logs] == [{"Fn::GetAtt": [LAMBDA_ROLES[role], "Arn"]}], "its own log group only"


def test_every_listed_action_is_justified_by_a_comment() -> None:
    lines = TEMPLATE_PATH.read_text().splitlines()
    seen = 0
    for number, line in enumerate(lines, start=1):
        match = ACTION_LINE.match(line)
        if not match:
            continue
        seen += 1
        commented_above = lines[number - 2].strip().startswith("#")
        assert match.group(2) or commented_above, f"template.yaml:{number}: {match.group(1)} has no justification"
    assert seen >= 40


def test_bedrock_access_is_scoped_to_this_accounts_knowledge_bases(template: dict[str, Any]) -> None:
    found = 0
    for role in LAMBDA_ROLES:
        for statement in role_statements(template, role):
            actions = _listify(statement["Action"])
            if actions == ["bedrock:ListKnowledgeBases"]:
                assert (role, statement["Resource"]) == ("SweepListFunctionRole", "*")
            elif any(a.startswith("bedrock:") for a in actions):
                found += 1
                assert statement["Resource"] == KB_ARN, role
    assert found == 5  # check, apply, ingest, the hook and the sweep's evaluate step


def test_key_creation_is_limited_to_tagged_symmetric_keys(template: dict[str, Any]) -> None:
    statements = role_statements(template, "KeyFunctionRole")
    (create,) = [s for s in statements if "kms:CreateKey" in _listify(s["Action"])]
    assert _listify(create["Action"]) == ["kms:CreateKey"]
    assert create["Condition"]["StringEquals"]["aws:RequestTag/cmk-guard:managed"] == "true"
    assert create["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == ["cmk-guard:managed", "cmk-guard:scope"]
    (tag,) = [s for s in statements if "kms:TagResource" in _listify(s["Action"])]
    assert tag["Condition"]["StringEquals"] == {"aws:RequestTag/cmk-guard:managed": "true"}
    assert tag["Condition"]["ForAllValues:StringEquals"] == create["Condition"]["ForAllValues:StringEquals"]


def test_key_management_needs_the_managed_tag_or_the_alias_or_the_existing_key(template: dict[str, Any]) -> None:
    refs = fake_refs(template)
    alias_arn = f"arn:aws:kms:{refs['AWS::Region']}:{refs['AWS::AccountId']}:alias/cmk-guard/*"
    for statement in role_statements(template, "KeyFunctionRole") + role_statements(template, "ApplyFunctionRole"):
        actions = set(_listify(statement["Action"]))
        kms = {a for a in actions if a.startswith("kms:")} - {"kms:CreateKey", "kms:TagResource"}
        if not kms:
            continue
        resource = resolve(statement["Resource"], refs)
        condition = statement.get("Condition", {})
        if resource == alias_arn:
            assert actions == {"kms:CreateAlias"}
        elif statement["Resource"] == {"Ref": "ExistingKeyArn"}:
            assert statement["Sid"] in {"UseTheExistingKey", "DescribeTheExistingKey"}
        elif condition.get("StringLike", {}).get("kms:RequestAlias") == "alias/cmk-guard/*":
            assert actions == {"kms:DescribeKey"}
        else:
            assert condition.get("StringEquals", {}).get("aws:ResourceTag/cmk-guard:managed") == "true", actions


@pytest.mark.parametrize("role", ["KeyFunctionRole", "ApplyFunctionRole"])
def test_existing_key_statements_exist_only_with_the_condition(template: dict[str, Any], role: str) -> None:
    statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    conditional = [item for item in statements if set(item) == {"Fn::If"} and item["Fn::If"][0] == "HasExistingKey"]
    assert len(conditional) == 1
    name, when_true, when_false = conditional[0]["Fn::If"]
    assert name == "HasExistingKey"
    assert when_true["Resource"] == {"Ref": "ExistingKeyArn"}
    assert when_false == {"Ref": "AWS::NoValue"}
    unconditional = [s for s in statements if "Fn::If" not in s]
    assert all(s.get("Resource") != {"Ref": "ExistingKeyArn"} for s in unconditional)


def test_existing_key_gets_what_the_key_step_calls_on_it(template: dict[str, Any]) -> None:
    # run_key calls DescribeKey, GetKeyPolicy and PutKeyPolicy on the configured key (never its rotation).
    (existing,) = [s for s in role_statements(template, "KeyFunctionRole") if s.get("Sid") == "UseTheExistingKey"]
    assert set(existing["Action"]) == {
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
    }


def test_ledger_and_topic_access_is_scoped(template: dict[str, Any]) -> None:
    for role in LAMBDA_ROLES:
        for statement in role_statements(template, role):
            actions = _listify(statement["Action"])
            if any(a.startswith("dynamodb:") for a in actions):
                assert statement["Resource"] == {"Fn::GetAtt": ["LedgerTable", "Arn"]}, role
            if "sns:Publish" in actions:
                topic = "ApprovalTopic" if role == "ProposeFunctionRole" else "OpsTopic"
                assert statement["Resource"] == {"Ref": topic}, role


def test_state_machine_may_invoke_exactly_its_seven_functions(transformed: dict[str, Any]) -> None:
    role = transformed["Resources"]["RemediateStateMachineRole"]["Properties"]
    invoked = set()
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "lambda:InvokeFunction" in _listify(statement["Action"]):
                invoked.add(statement["Resource"]["Fn::Sub"][1]["functionName"]["Ref"])
    steps = ("Check", "Key", "Apply", "Ingest", "Confirm", "Record", "Propose")
    assert invoked == {f"{step}Function" for step in steps}, "never the approval page: only a person's POST decides"


def test_keys_cmk_guard_creates_grant_the_key_role_what_the_key_step_calls() -> None:
    # The key role has no IAM statement on managed keys: their own policy must grant every call run_key makes.
    from cmk_guard.core import key_policy

    policy = key_policy.build_key_policy(
        admins=["arn:aws:iam::111122223333:root"],
        manager_role_arn="arn:aws:iam::111122223333:role/key-role",
        inspector_role_arns=[],
        key_user_role_arns=["arn:aws:iam::111122223333:role/kb"],
        region="us-east-1",
    )
    (manager,) = [s for s in policy["Statement"] if s["Sid"] == key_policy.MANAGER_SID]
    assert manager["Principal"] == {"AWS": "arn:aws:iam::111122223333:role/key-role"}
    assert {
        "kms:CreateAlias", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy",
        "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion",
    } <= set(manager["Action"])


@pytest.mark.parametrize("step", ["Check", "Key", "Apply", "Ingest", "Confirm"])
def test_member_roles_are_assumable_only_with_an_organization_and_only_inside_it(
    template: dict[str, Any], step: str
) -> None:
    statements = template["Resources"][f"{step}FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (conditional,) = [item for item in statements if set(item) == {"Fn::If"} and item["Fn::If"][0] == "IsOrganization"]
    _name, assume, otherwise = conditional["Fn::If"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert assume["Action"] == ["sts:AssumeRole"]
    # Only this step's member role (<prefix>-<step>-<region>), only in accounts of the organization.
    assert assume["Resource"] == {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::*:role/${{MemberRolePrefix}}-{step.lower()}-*"}
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}


def test_the_record_role_never_leaves_the_central_account(template: dict[str, Any]) -> None:
    assert not [a for a in role_actions(template, "RecordFunctionRole") if a.startswith("sts:")]
