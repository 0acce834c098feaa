"""Approval mode in the template and the workflow definition: the callback state, the API, its logs, the topic."""

from __future__ import annotations

import json
from typing import Any

from cmk_guard_local.template import conditions, resolve

from .conftest import ROOT
from .test_template_contract import fake_refs
from .test_template_iam import role_statements


def _definition() -> dict[str, Any]:
    return json.loads((ROOT / "statemachine" / "remediate.asl.json").read_text())


def test_approval_waits_in_a_callback_state_before_any_write() -> None:
    states = _definition()["States"]
    request = states["RequestApproval"]
    assert request["Resource"] == "arn:${Partition}:states:::lambda:invoke.waitForTaskToken"
    payload = request["Parameters"]["Payload"]
    assert payload["taskToken.$"] == "$$.Task.Token" and payload["pageUrl"] == "${ApprovalPageUrl}"
    assert request["TimeoutSecondsPath"] == "$.proposal.approvalTimeoutSeconds"
    catches = {tuple(c["ErrorEquals"]): c["Next"] for c in request["Catch"]}
    assert catches[("States.Timeout",)] == "ApprovalExpired"
    assert states["ApprovalExpired"]["Parameters"]["decision"] == "expired"
    assert states["ApprovalExpired"]["Next"] == "RecordOutcome"
    (approve,) = states["RouteApproval"]["Choices"]
    assert (approve["Variable"], approve["StringEquals"], approve["Next"]) == (
        "$.approval.decision",
        "approved",
        "ProvisionKey",
    )
    assert states["RouteApproval"]["Default"] == "RecordOutcome", "anything but an approval is recorded, not applied"
    # Every path from the verdict to a write goes through the gate, except auto mode's
    reaching_key = [
        name
        for name, s in states.items()
        if "ProvisionKey" in json.dumps(s.get("Choices", [])) or s.get("Next") == "ProvisionKey"
    ]
    assert sorted(reaching_key) == ["RouteApproval", "RouteVerdict"]
    auto = [c for c in states["RouteVerdict"]["Choices"] if c.get("Next") == "ProvisionKey"]
    assert {"Variable": "$.check.mode", "StringEquals": "auto"} in auto[0]["And"]


def test_the_api_is_throttled_and_logs_route_templates_only(template: dict[str, Any]) -> None:
    api = template["Resources"]["ApprovalApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    properties = api["Properties"]
    assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"] <= 10
    assert properties["DefaultRouteSettings"]["ThrottlingBurstLimit"] <= 50
    log_format = properties["AccessLogSettings"]["Format"]
    assert json.loads(log_format)["route"] == "$context.routeKey"
    for leaky in ("$context.path", "$context.rawPath", "$context.requestOverride", "$context.integration"):
        assert leaky not in log_format.replace("$context.integrationErrorMessage", ""), leaky
    assert properties["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApprovalApiAccessLogGroup", "Arn"]}
    events = template["Resources"]["ApprovalPageFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()}
    assert routes == {("GET", "/approvals/{id}"), ("POST", "/approvals/{id}")}
    assert all(e["Properties"]["ApiId"] == {"Ref": "ApprovalApi"} for e in events.values())


def test_the_approval_topic_is_encrypted_and_subscribed_only_when_asked(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["ApprovalTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    refs = fake_refs(template)
    policy = resolve(resources["ApprovalTopicPolicy"]["Properties"], refs)
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"AWS": "arn:aws:iam::123456789012:root"}]
    assert resources["ApprovalEmailSubscription"]["Condition"] == "HasApprovalEmail"
    assert conditions(template, fake_refs(template, ApprovalEmail=""))["HasApprovalEmail"] is False
    assert conditions(template, fake_refs(template, ApprovalEmail="approver@example.com"))["HasApprovalEmail"] is True
    assert template["Parameters"]["ApprovalTimeoutHours"]["Default"] == 72
    assert template["Parameters"]["ApprovalEmail"]["Default"] == ""


def test_approval_roles_touch_approval_items_only_and_the_page_only_succeeds_tasks(template: dict[str, Any]) -> None:
    for role in ("ProposeFunctionRole", "ApprovalPageFunctionRole"):
        ledger = [s for s in role_statements(template, role) if any(a.startswith("dynamodb:") for a in s["Action"])]
        (statement,) = ledger
        assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["APPROVAL#*"]}}, role
    page = role_statements(template, "ApprovalPageFunctionRole")
    (callback,) = [s for s in page if any(a.startswith("states:") for a in s["Action"])]
    assert callback["Action"] == ["states:SendTaskSuccess"], "no SendTaskFailure, heartbeat or execution control"
    propose = role_statements(template, "ProposeFunctionRole")
    (describe,) = [s for s in propose if s.get("Sid") == "DescribeKeysBehindCmkGuardAliases"]
    assert describe["Condition"] == {"StringLike": {"kms:RequestAlias": "alias/cmk-guard/*"}}


def test_approval_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["ApprovalTopicArn"]["Value"] == {"Ref": "ApprovalTopic"}
    assert outputs["ApprovalPageUrl"]["Value"] == {"Fn::GetAtt": ["ApprovalApi", "ApiEndpoint"]}
