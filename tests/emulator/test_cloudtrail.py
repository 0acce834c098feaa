"""CloudTrail records for every call, acting_as identities, LookupEvents semantics, delivery delay, rate limit."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from botocore.config import Config

from cmk_guard_local.emulator import Fault, acting_as, current_principal

from .helpers import ACCOUNT, REGION, S3_CONFIG, make_ds, make_kb, make_role

APPLY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/cmk-guard-apply"


def _bedrock_records(acct, name: str) -> list[dict]:
    return [r for r in acct.cloudtrail.events if r["eventSource"] == "bedrock.amazonaws.com"
            and r["eventName"] == name]


def test_data_source_records(acct, bedrock, iam):
    kb_id = make_kb(bedrock, make_role(iam))
    ds_id = make_ds(bedrock, kb_id)
    create = _bedrock_records(acct, "CreateDataSource")[0]
    assert create["requestParameters"]["dataSourceConfiguration"]["s3Configuration"]["inclusionPrefixes"] \
        == ["HIDDEN_DUE_TO_SECURITY_REASONS"]  # the list member is the sensitive shape
    assert {k: create["responseElements"]["dataSource"][k] for k in ("knowledgeBaseId", "dataSourceId", "name",
                                                                       "status")} \
        == {"knowledgeBaseId": kb_id, "dataSourceId": ds_id, "name": "docs", "status": "AVAILABLE"}
    assert create["userIdentity"]["type"] == "IAMUser" and create["readOnly"] is False

    with acting_as(APPLY_ROLE):
        assert current_principal() == APPLY_ROLE
        bedrock.update_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id, name="docs",
                                   dataSourceConfiguration=S3_CONFIG)
    update = _bedrock_records(acct, "UpdateDataSource")[0]
    assert update["requestParameters"]["knowledgeBaseId"] == kb_id
    assert update["requestParameters"]["dataSourceId"] == ds_id
    ident = update["userIdentity"]
    assert ident["type"] == "AssumedRole"
    assert ident["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/cmk-guard-apply/cmk-guard-apply"
    assert ident["sessionContext"]["sessionIssuer"] == {
        "type": "Role", "principalId": ident["sessionContext"]["sessionIssuer"]["principalId"], "arn": APPLY_ROLE,
        "accountId": ACCOUNT, "userName": "cmk-guard-apply"}
    assert update["eventTime"].endswith("Z") and uuid.UUID(update["eventID"])
    assert (update["eventType"], update["managementEvent"], update["eventCategory"], update["recipientAccountId"],
            update["awsRegion"]) == ("AwsApiCall", True, "Management", ACCOUNT, REGION)
    assert update["resources"][0]["ARN"].endswith(f":knowledge-base/{kb_id}")
    assert current_principal() == f"arn:aws:iam::{ACCOUNT}:user/cmk-guard-demo-admin"


def test_acting_as_is_thread_local(acct):
    seen: list[str] = []
    with acting_as(APPLY_ROLE):
        worker = threading.Thread(target=lambda: seen.append(current_principal()))
        worker.start()
        worker.join()
    assert seen == [f"arn:aws:iam::{ACCOUNT}:user/cmk-guard-demo-admin"]


def test_errors_and_moto_services_are_recorded_but_not_data_events(acct, session, bedrock, kms):
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_knowledge_base(knowledgeBaseId="ABCDEFGHIJ")
    failed = _bedrock_records(acct, "GetKnowledgeBase")[0]
    assert failed["errorCode"] == "ResourceNotFoundException" and failed["responseElements"] is None
    key = kms.create_key()["KeyMetadata"]["Arn"]
    created = [r for r in acct.cloudtrail.events if r["eventName"] == "CreateKey"][0]
    assert created["eventSource"] == "kms.amazonaws.com" and created["resources"][0]["ARN"] == key
    ddb = session.client("dynamodb")
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="t", Item={"pk": {"S": "1"}})
    names = {r["eventName"] for r in acct.cloudtrail.events}
    assert "CreateTable" in names and "PutItem" not in names  # PutItem is a data event


def test_subscribers_get_each_new_record(acct, bedrock, iam):
    got: list[dict] = []
    unsubscribe = acct.cloudtrail.subscribe(got.append)
    kb_id = make_kb(bedrock, make_role(iam))
    assert [r["eventName"] for r in got] == ["CreateRole", "CreateKnowledgeBase"]
    unsubscribe()
    bedrock.get_knowledge_base(knowledgeBaseId=kb_id)
    assert len(got) == 2


def test_subscriber_may_call_aws_while_the_outer_call_retries(acct, session, bedrock, iam, no_backoff):
    kb_id = make_kb(bedrock, make_role(iam))
    sts = session.client("sts")
    nested: list[str] = []

    def on_record(record: dict) -> None:
        if record["eventSource"] == "bedrock.amazonaws.com":
            nested.append(sts.get_caller_identity()["Arn"])

    acct.cloudtrail.subscribe(on_record)
    acct.faults.add("bedrock-agent", "GetKnowledgeBase", Fault.THROTTLE, times=1)
    with acting_as(APPLY_ROLE):
        bedrock.get_knowledge_base(knowledgeBaseId=kb_id)
    assert len(nested) == 2  # one record per attempt, each with a nested call
    gets = [r for r in acct.cloudtrail.events if r["eventName"] == "GetKnowledgeBase"]
    assert [r.get("errorCode") for r in gets] == ["ThrottlingException", None]
    assert all(r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == APPLY_ROLE for r in gets)
    assert acct.bedrock.knowledge_bases()[0]["knowledgeBaseId"] == kb_id


def test_lookup_filters_pages_and_validates(acct, cloudtrail, bedrock, iam):
    acct.cloudtrail.rate_limit_enabled = False
    role = make_role(iam)
    kb_ids = [make_kb(bedrock, role, name=f"kb-{i}") for i in range(5)]
    attrs = [{"AttributeKey": "EventName", "AttributeValue": "CreateKnowledgeBase"}]
    first = cloudtrail.lookup_events(LookupAttributes=attrs, MaxResults=2)
    assert len(first["Events"]) == 2 and first["NextToken"]
    pages = [first]
    while "NextToken" in pages[-1]:
        pages.append(cloudtrail.lookup_events(LookupAttributes=attrs, MaxResults=2,
                                              NextToken=pages[-1]["NextToken"]))
    records = [json.loads(e["CloudTrailEvent"]) for p in pages for e in p["Events"]]
    assert [r["responseElements"]["knowledgeBase"]["knowledgeBaseId"] for r in records] == kb_ids[::-1]

    by_source = cloudtrail.lookup_events(LookupAttributes=[
        {"AttributeKey": "EventSource", "AttributeValue": "iam.amazonaws.com"}])["Events"]
    assert [e["EventName"] for e in by_source] == ["CreateRole"]
    assert by_source[0]["Username"] == "cmk-guard-demo-admin" and by_source[0]["ReadOnly"] == "false"
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert cloudtrail.lookup_events(StartTime=future)["Events"] == []

    errors = cloudtrail.exceptions
    with pytest.raises(errors.InvalidNextTokenException):
        cloudtrail.lookup_events(MaxResults=2, NextToken=first["NextToken"])  # different parameters
    with pytest.raises(errors.InvalidLookupAttributesException):
        cloudtrail.lookup_events(LookupAttributes=attrs * 2)
    with pytest.raises(errors.InvalidMaxResultsException):
        cloudtrail.lookup_events(MaxResults=51)
    with pytest.raises(errors.InvalidTimeRangeException):
        cloudtrail.lookup_events(StartTime=future, EndTime=future - timedelta(days=1))


def test_delivery_delay_hides_recent_events(acct, cloudtrail, iam):
    make_role(iam)
    acct.cloudtrail.delivery_delay_seconds = 3600
    assert cloudtrail.lookup_events()["Events"] == []
    acct.cloudtrail.delivery_delay_seconds = 0
    assert [e["EventName"] for e in cloudtrail.lookup_events()["Events"]] == ["CreateRole"]


def test_rate_limit_throttles_a_burst(acct, session):
    client = session.client("cloudtrail", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    outcomes = []
    for _ in range(6):
        try:
            client.lookup_events()
            outcomes.append("ok")
        except client.exceptions.ThrottlingException:
            outcomes.append("throttled")
    assert outcomes[:2] == ["ok", "ok"] and outcomes.count("ok") == 2
    time.sleep(0.55)
    client.lookup_events()  # one token refilled
    times = acct.cloudtrail.lookup_call_times
    assert len(times) == 7 and times == sorted(times)
    assert not [r for r in acct.cloudtrail.events if r["eventName"] == "LookupEvents"]
