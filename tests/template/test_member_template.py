"""member.yaml: StackSet-ready, lint-clean, the central pattern, and member roles no wider than their central step."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cmk_guard.adapters.sessions import MEMBER_STEPS, MemberAccess
from cmk_guard_local.template import load_template, resolve

from .conftest import ROOT
from .test_template_iam import ACTION_LINE, EXPECTED_ACTIONS, FORBIDDEN_ACTIONS, _listify, role_actions

MEMBER_PATH = ROOT / "member.yaml"
STEP_ROLES = {"check": "CheckRole", "key": "KeyRole", "apply": "ApplyRole", "ingest": "IngestRole",
              "confirm": "ConfirmRole"}
CENTRAL = "111122223333"
MEMBER = "444455556666"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return load_template(MEMBER_PATH)


def _refs(member: dict[str, Any]) -> dict[str, str]:
    refs = {
        "AWS::Partition": "aws", "AWS::AccountId": MEMBER, "AWS::Region": REGION, "AWS::StackName": "StackSet-cmk",
        "MemberRolePrefix": member["Parameters"]["MemberRolePrefix"]["Default"],
        "ExternalId": "an-external-id-0001", "OrganizationId": "o-a1b2c3d4e5",
        "CentralEventBusArn": f"arn:aws:events:us-east-1:{CENTRAL}:event-bus/cmk-guard-organization",
    }
    refs.update({f"Central{s.capitalize()}RoleArn": f"arn:aws:iam::{CENTRAL}:role/cmk-guard-{s}" for s in STEP_ROLES})
    refs.update({logical_id: f"id-{logical_id}" for logical_id in member["Resources"]})
    refs["ForwardingDeadLetterQueue.Arn"] = f"arn:aws:sqs:{REGION}:{MEMBER}:dlq"
    refs["ForwardDataSourceEvents.Arn"] = f"arn:aws:events:{REGION}:{MEMBER}:rule/cmk-guard-member-forward"
    refs["ForwardingRole.Arn"] = f"arn:aws:iam::{MEMBER}:role/cmk-guard-member-forward-{REGION}"
    return refs


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in resource["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def test_stackset_ready_plain_cloudformation(member: dict[str, Any]) -> None:
    assert "Transform" not in member, "no transform: StackSets deploy the template as it is"
    kinds = {r["Type"] for r in member["Resources"].values()}
    assert "AWS::CloudFormation::Stack" not in kinds, "no nested stacks"
    assert not [k for k in kinds if k.startswith("AWS::Serverless::")]


def test_cfn_lint_finds_nothing() -> None:
    executable = Path(sys.executable).parent / "cfn-lint"
    run = subprocess.run([str(executable), "--include-checks", "I", "--", str(MEMBER_PATH)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert (run.returncode, run.stdout.strip()) == (0, ""), run.stdout + run.stderr


def test_forwarding_rule_uses_the_central_pattern_with_this_accounts_apply_role(
    member: dict[str, Any], template: dict[str, Any]
) -> None:
    forward = member["Resources"]["ForwardDataSourceEvents"]["Properties"]
    central = template["Resources"]["OrganizationDataSourceRule"]["Properties"]["EventPattern"]

    def without_guard(pattern: dict[str, Any]) -> dict[str, Any]:
        detail = {k: v for k, v in pattern["detail"].items() if k != "userIdentity"}
        return {**pattern, "detail": detail}

    assert without_guard(forward["EventPattern"]) == without_guard(central)
    guard = forward["EventPattern"]["detail"]["userIdentity"]["arn"][0]["anything-but"]["prefix"]
    refs = _refs(member)
    assert resolve(guard, refs) == f"arn:aws:sts::{MEMBER}:assumed-role/cmk-guard-member-apply-{REGION}/"
    (target,) = forward["Targets"]
    assert target["Arn"] == {"Ref": "CentralEventBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardingRole", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ForwardingDeadLetterQueue", "Arn"]}}


def test_forwarding_role_may_only_put_events_on_the_central_bus(member: dict[str, Any], template: dict[str, Any]) -> None:
    role = member["Resources"]["ForwardingRole"]
    (statement,) = _statements(role)
    assert (statement["Action"], statement["Resource"]) == (["events:PutEvents"], {"Ref": "CentralEventBusArn"})
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    refs = _refs(member)
    assert resolve(trust["Condition"]["ArnEquals"]["aws:SourceArn"], refs) == refs["ForwardDataSourceEvents.Arn"]
    # Its name is what the central bus policy accepts.
    name = resolve(role["Properties"]["RoleName"], refs)
    bus_policy = template["Resources"]["OrganizationEventBusPolicy"]["Properties"]["Statement"]
    pattern = resolve(bus_policy["Condition"]["ArnLike"]["aws:PrincipalArn"], {**refs, "AWS::Partition": "aws"})
    assert re.fullmatch(pattern.replace("*", ".*"), f"arn:aws:iam::{MEMBER}:role/{name}")


@pytest.mark.parametrize("step", sorted(STEP_ROLES))
def test_member_roles_trust_only_their_central_step_with_external_id_and_organization(
    member: dict[str, Any], step: str
) -> None:
    role = member["Resources"][STEP_ROLES[step]]["Properties"]
    refs = _refs(member)
    (trust,) = resolve(role["AssumeRolePolicyDocument"], refs)["Statement"]
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{CENTRAL}:root"}
    assert trust["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{CENTRAL}:role/cmk-guard-{step}"},
        "StringEquals": {"sts:ExternalId": "an-external-id-0001", "aws:PrincipalOrgID": "o-a1b2c3d4e5"},
    }
    # The name is the one the central steps assume (adapters/sessions.py).
    access = MemberAccess(CENTRAL, "us-east-1", "o-a1b2c3d4e5", refs["MemberRolePrefix"], "x")
    assert f"arn:aws:iam::{MEMBER}:role/{resolve(role['RoleName'], refs)}" == access.role_arn(step, MEMBER, REGION)


@pytest.mark.parametrize("step", sorted(STEP_ROLES))
def test_member_roles_get_no_more_than_their_central_step(
    member: dict[str, Any], template: dict[str, Any], step: str
) -> None:
    statements = _statements(member["Resources"][STEP_ROLES[step]])
    actions = {a for s in statements for a in _listify(s["Action"])}
    central = role_actions(template, f"{step.capitalize()}FunctionRole")
    assert actions <= central - {"sts:AssumeRole", "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"}
    assert not actions & FORBIDDEN_ACTIONS
    for statement in statements:
        resource = statement["Resource"]
        if any(a.startswith("bedrock:") for a in _listify(statement["Action"])):
            # This account's knowledge bases in this region only.
            assert resolve(resource, _refs(member)) == f"arn:aws:bedrock:{REGION}:{MEMBER}:knowledge-base/*"


def test_member_roles_cover_what_each_step_calls_there(member: dict[str, Any]) -> None:
    # Everything a step calls outside the ledger, the topic, its logs and X-Ray, which stay central.
    central_only = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
                    "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem", "sts:AssumeRole", "kms:GetKeyPolicy",
                    "kms:PutKeyPolicy"}
    for step, logical_id in STEP_ROLES.items():
        expected = EXPECTED_ACTIONS[f"{step.capitalize()}FunctionRole"] - central_only
        if step == "key":
            expected -= {"kms:DescribeKey"}  # only the ExistingKeyArn statement, which is central-only
        actions = {a for s in _statements(member["Resources"][logical_id]) for a in _listify(s["Action"])}
        assert actions == expected, step
    assert set(STEP_ROLES) == MEMBER_STEPS


def test_every_member_action_is_justified_by_a_comment() -> None:
    lines = MEMBER_PATH.read_text().splitlines()
    seen = 0
    for number, line in enumerate(lines, start=1):
        match = ACTION_LINE.match(line)
        if match:
            seen += 1
            assert match.group(2) or lines[number - 2].strip().startswith("#"), f"member.yaml:{number}"
    assert seen >= 14


def test_parameters_agree_with_the_central_stack(member: dict[str, Any], template: dict[str, Any]) -> None:
    central = template["Parameters"]
    assert member["Parameters"]["MemberRolePrefix"]["Default"] == central["MemberRolePrefix"]["Default"]
    assert member["Parameters"]["MemberRolePrefix"]["AllowedPattern"] == central["MemberRolePrefix"]["AllowedPattern"]
    assert member["Parameters"]["OrganizationId"]["AllowedPattern"] == central["OrganizationId"]["AllowedPattern"][3:]
    assert member["Parameters"]["ExternalId"]["AllowedPattern"] == central["MemberExternalId"]["AllowedPattern"][3:]
    assert member["Parameters"]["ExternalId"]["NoEcho"] is True
    for step in STEP_ROLES:
        assert f"{step.capitalize()}FunctionRoleArn" in template["Outputs"], "each member parameter is an output"
    assert "OrganizationEventBusArn" in template["Outputs"]
