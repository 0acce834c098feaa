"""The rule's pattern, resolved for one account and apply role, run through moto's EventBridge.

moto 5.2.5's ``TestEventPattern`` is a stub: it answers HTTP 200 with no ``Result`` for any pattern and event (see
``test_moto_test_event_pattern_is_still_a_stub``). Its real matcher (``anything-but`` with ``prefix``, ``exists``,
nested ``detail`` fields) runs when an event is put on a bus, so these tests put a rule with the pattern on the
default bus, target an SQS queue and check what arrives.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cmk_guard_local.template import resolve, state_machine

from .conftest import ACCOUNT_ID, REGION

APPLY_ROLE = "cmk-guard-ApplyFunctionRole-1A2B3C4D5E6F"
APPLY_SESSION_ARN = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{APPLY_ROLE}/cmk-guard-apply"


@pytest.fixture(scope="module")
def pattern(template: dict[str, Any]) -> dict[str, Any]:
    refs = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT_ID, "AWS::Region": REGION}
    refs["ApplyFunctionRole"] = APPLY_ROLE
    return resolve(state_machine(template, "RemediateStateMachine")["event_pattern"], refs)


def cloudtrail_record(event_name: str, identity: dict[str, Any], **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": "2025-01-01T12:00:00Z",
        "eventSource": "bedrock.amazonaws.com",
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2",
        "requestParameters": {"knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678"},
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": event_name.startswith(("Get", "List")),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT_ID,
        "eventCategory": "Management",
    }
    record.update(extra)
    return record


def assumed_role(role: str, session: str) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT_ID,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role}",
                "accountId": ACCOUNT_ID,
                "userName": role,
            },
            "attributes": {"creationDate": "2025-01-01T11:00:00Z", "mfaAuthenticated": "false"},
        },
    }


IAM_USER = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLE",
    "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/bob",
    "accountId": ACCOUNT_ID,
    "userName": "bob",
}
HUMAN = assumed_role("AWSReservedSSO_DataEngineer_0123456789abcdef", "alice@example.com")


@pytest.fixture(scope="module")
def delivered(pattern: dict[str, Any]) -> Iterator[Callable[..., bool]]:
    """``delivered(detail, source=..., detail_type=...)``: did the rule pass the event on to its target?"""
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="rule-target")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="cmk-guard-data-source-change", EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule="cmk-guard-data-source-change", Targets=[{"Id": "target", "Arn": queue_arn}])

        def deliver(
            detail: dict[str, Any], source: str = "aws.bedrock", detail_type: str = "AWS API Call via CloudTrail"
        ) -> bool:
            entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
            response = events.put_events(Entries=[entry])
            assert response["FailedEntryCount"] == 0
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            arrived = [json.loads(m["Body"])["detail"] for m in messages]
            assert arrived in ([], [detail]), f"unexpected deliveries: {arrived}"
            return bool(arrived)

        yield deliver


def test_pattern_resolves_to_the_apply_roles_session_prefix(pattern: dict[str, Any]) -> None:
    (arn_filter,) = pattern["detail"]["userIdentity"]["arn"]
    assert arn_filter == {"anything-but": {"prefix": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{APPLY_ROLE}/"}}


def test_matches_a_successful_create_by_a_person(delivered: Callable[..., bool]) -> None:
    record = cloudtrail_record(
        "CreateDataSource",
        HUMAN,
        requestParameters={"knowledgeBaseId": "KB12345678", "name": "docs"},
        responseElements={"dataSource": {"knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678"}},
    )
    assert delivered(record)


def test_matches_an_update_by_an_iam_user_without_session_context(delivered: Callable[..., bool]) -> None:
    record = cloudtrail_record("UpdateDataSource", IAM_USER)
    assert "sessionContext" not in record["userIdentity"]
    assert delivered(record)


def test_matches_a_role_whose_name_only_starts_like_the_apply_role(delivered: Callable[..., bool]) -> None:
    # The prefix ends with "/": another role that shares the name's beginning is not cmk-guard.
    assert delivered(cloudtrail_record("UpdateDataSource", assumed_role(f"{APPLY_ROLE}-impostor", "x")))


def test_ignores_a_failed_call(delivered: Callable[..., bool]) -> None:
    record = cloudtrail_record("CreateDataSource", HUMAN, errorCode="AccessDenied", errorMessage="denied")
    assert not delivered(record)


def test_ignores_cmk_guards_own_update(delivered: Callable[..., bool]) -> None:
    identity = assumed_role(APPLY_ROLE, "cmk-guard-apply")
    assert identity["arn"] == APPLY_SESSION_ARN
    assert not delivered(cloudtrail_record("UpdateDataSource", identity))


def test_ignores_a_read(delivered: Callable[..., bool]) -> None:
    assert not delivered(cloudtrail_record("GetDataSource", HUMAN))


def test_ignores_another_source(delivered: Callable[..., bool]) -> None:
    record = cloudtrail_record("UpdateDataSource", HUMAN)
    assert not delivered(record, source="aws.kms")
    assert not delivered(record, source="custom.bedrock")
    assert not delivered(record, detail_type="AWS Service Event via CloudTrail")


def test_ignores_another_event_source_in_the_detail(delivered: Callable[..., bool]) -> None:
    record = cloudtrail_record("UpdateDataSource", HUMAN, eventSource="bedrock-agent.amazonaws.com")
    assert not delivered(record)


def test_moto_test_event_pattern_is_still_a_stub(pattern: dict[str, Any]) -> None:
    """Canary: if this fails, moto answers TestEventPattern; the harness may then use it instead of a rule."""
    envelope = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.bedrock",
        "account": ACCOUNT_ID,
        "time": "2025-01-01T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": cloudtrail_record("UpdateDataSource", IAM_USER),
    }
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        matching = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(envelope))
        failing = copy.deepcopy(envelope)
        failing["source"] = "aws.kms"
        not_matching = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(failing))
    assert "Result" not in matching and "Result" not in not_matching, (
        "moto now implements TestEventPattern: check it against these tests and simplify the harness"
    )
