"""Per-request account derivation (as moto does it) and STS sessions as CloudTrail principals."""

from __future__ import annotations

import boto3
import pytest

from cmk_guard_local.emulator import EmulatedAccount, acting_as

from .helpers import ACCOUNT, make_kb

MEMBER = "210987654321"


def test_assumed_role_credentials_switch_account_and_principal(acct, session, iam):
    sts = session.client("sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{MEMBER}:role/cmk-guard-member", RoleSessionName="central")[
        "Credentials"]
    member = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                   aws_secret_access_key=creds["SecretAccessKey"],
                                   aws_session_token=creds["SessionToken"], region_name=acct.region)
    assert member.client("sts").get_caller_identity()["Account"] == MEMBER
    member_bedrock = member.client("bedrock-agent")
    kb_id = make_kb(member_bedrock, f"arn:aws:iam::{MEMBER}:role/kb-role")
    assert member_bedrock.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]["knowledgeBaseArn"] \
        .split(":")[4] == MEMBER
    assert session.client("bedrock-agent").list_knowledge_bases()["knowledgeBaseSummaries"] == []
    record = acct.cloudtrail.events_for(MEMBER, acct.region)[-1]
    assert record["eventName"] == "GetKnowledgeBase" and record["recipientAccountId"] == MEMBER
    assert record["userIdentity"]["arn"] == f"arn:aws:sts::{MEMBER}:assumed-role/cmk-guard-member/central"
    central = [r["eventName"] for r in acct.cloudtrail.events_for(ACCOUNT, acct.region)]
    assert "AssumeRole" in central and "GetKnowledgeBase" not in central


def test_get_caller_identity_follows_acting_as(acct, session):
    sts = session.client("sts")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/cmk-guard-demo-admin"
    with acting_as(f"arn:aws:iam::{ACCOUNT}:role/service-role/cmk-guard-apply", session_name="fn"):
        me = sts.get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/cmk-guard-apply/fn"
    assert me["Account"] == ACCOUNT and me["UserId"].endswith(":fn")


def test_non_default_account_id():
    with EmulatedAccount(region="eu-west-1", account_id="111122223333") as acct:
        client = boto3.session.Session(region_name="eu-west-1").client("sts")
        assert client.get_caller_identity()["Account"] == "111122223333"
        assert acct.calls[-1].principal == "arn:aws:iam::111122223333:user/cmk-guard-demo-admin"
        assert acct.cloudtrail.events_for("111122223333", "eu-west-1")


def test_event_pattern_is_answered(acct, session):
    import json

    events = session.client("events")
    pattern = {"source": ["aws.bedrock"], "detail": {"eventName": ["UpdateDataSource"]}}
    event = {"id": "1", "account": ACCOUNT, "source": "aws.bedrock", "time": "2024-01-01T00:00:00Z",
             "region": acct.region, "detail-type": "AWS API Call via CloudTrail", "detail": {}}
    assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(
        {**event, "detail": {"eventName": "UpdateDataSource"}}))["Result"] is True
    assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(
        {**event, "detail": {"eventName": "CreateDataSource"}}))["Result"] is False
    with pytest.raises(events.exceptions.InvalidEventPatternException):
        events.test_event_pattern(EventPattern=json.dumps({"source": "aws.bedrock"}), Event=json.dumps(event))
