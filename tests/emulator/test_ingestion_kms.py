"""Ingestion jobs use the data source's key as the knowledge base role, with the key policy evaluated."""

from __future__ import annotations

import json

import pytest

from .helpers import ACCOUNT, REGION, ROOT, allow, key_policy, make_ds, make_kb, make_key, make_role, run_ingestion


@pytest.fixture
def role(iam) -> str:
    return make_role(iam)  # arn:aws:iam::<acct>:role/service-role/...


def _ingest(bedrock, role: str, key: str | None) -> dict:
    kb_id = make_kb(bedrock, role)
    return run_ingestion(bedrock, kb_id, make_ds(bedrock, kb_id, key))


def _kms_records(acct, key: str) -> list[dict]:
    """KMS records of the key made by Bedrock on the role's behalf (not the test's own CreateKey etc.)."""
    return [r for r in acct.cloudtrail.events if r["eventSource"] == "kms.amazonaws.com"
            and r["userIdentity"].get("invokedBy") == "bedrock.amazonaws.com"
            and any(res["ARN"] == key for res in r.get("resources", []))]


def test_job_progresses_starting_in_progress_then_final(acct, bedrock, role):
    kb_id = make_kb(bedrock, role)
    ds_id = make_ds(bedrock, kb_id)
    start = bedrock.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)
    assert start["ResponseMetadata"]["HTTPStatusCode"] == 202 and start["ingestionJob"]["status"] == "STARTING"
    job_id = start["ingestionJob"]["ingestionJobId"]
    acct.bedrock.ingestion_polls_to_finish = 3
    seen = [bedrock.get_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job_id)
            ["ingestionJob"]["status"] for _ in range(4)]
    assert seen == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETE", "COMPLETE"]


def test_no_key_completes_without_kms_events(acct, bedrock, role):
    job = _ingest(bedrock, role, None)
    assert job["status"] == "COMPLETE" and job["statistics"]["numberOfDocumentsScanned"] > 0
    assert not [r for r in acct.cloudtrail.events if r["eventSource"] == "kms.amazonaws.com"]


def test_least_privilege_policy_naming_the_role(acct, bedrock, kms, cloudtrail, role):
    key = make_key(kms, key_policy(allow(role)))
    job = _ingest(bedrock, role, key)
    assert job["status"] == "COMPLETE", job.get("failureReasons")

    found = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key}])
    events = [e for e in found["Events"] if e["EventName"] in ("GenerateDataKey", "Decrypt")]
    assert [e["EventName"] for e in events] == ["Decrypt", "GenerateDataKey"]  # newest first
    assert found["Events"][-1]["EventName"] == "CreateKey"  # the test's own call, also on the key
    record = json.loads(events[1]["CloudTrailEvent"])
    ident = record["userIdentity"]
    assert ident["type"] == "AssumedRole" and ident["invokedBy"] == "bedrock.amazonaws.com"
    assert ident["sessionContext"]["sessionIssuer"]["arn"] == role
    assert ident["arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/AmazonBedrockExecutionRoleForKB_demo/")
    assert record["sourceIPAddress"] == record["userAgent"] == "bedrock.amazonaws.com"
    assert record["readOnly"] is True and record["requestParameters"]["keyId"] == key
    assert record["resources"] == [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}]
    assert "errorCode" not in record


def test_policy_not_naming_the_role_fails_like_kms(acct, bedrock, kms, iam, role):
    other = make_role(iam, "SomeoneElse", "/")
    key = make_key(kms, key_policy(allow(other)))
    job = _ingest(bedrock, role, key)
    assert job["status"] == "FAILED"
    reason = job["failureReasons"][0]
    assert "AccessDeniedException" in reason and "kms:GenerateDataKey" in reason
    assert role in reason and key in reason
    records = _kms_records(acct, key)
    assert [(r["eventName"], r.get("errorCode")) for r in records] == [("GenerateDataKey", "AccessDenied")]


def test_root_delegation_needs_an_identity_policy(acct, bedrock, kms, iam, role):
    key = make_key(kms, key_policy(allow(ROOT, "kms:*")))
    assert _ingest(bedrock, role, key)["status"] == "FAILED"

    role_name = role.rsplit("/", 1)[-1]
    iam.put_role_policy(RoleName=role_name, PolicyName="use-cmk", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": key}]}))
    assert _ingest(bedrock, role, key)["status"] == "COMPLETE"


def test_root_delegation_via_attached_managed_policy_and_bare_account_id(bedrock, kms, iam, role):
    key = make_key(kms, key_policy(allow(ACCOUNT, "kms:*")))
    arn = iam.create_policy(PolicyName="kms-use", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))
    iam.attach_role_policy(RoleName=role.rsplit("/", 1)[-1], PolicyArn=arn["Policy"]["Arn"])
    assert _ingest(bedrock, role, key)["status"] == "COMPLETE"


def test_explicit_deny_wins(bedrock, kms, role):
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
    key = make_key(kms, key_policy(allow(role), deny))
    job = _ingest(bedrock, role, key)
    assert job["status"] == "FAILED" and "kms:Decrypt" in job["failureReasons"][0]


def test_unevaluable_condition_fails_closed_but_via_service_is_understood(bedrock, kms, role):
    odd = allow(role, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert _ingest(bedrock, role, make_key(kms, key_policy(odd)))["status"] == "FAILED"
    via = allow(role, Condition={"StringEquals": {"kms:ViaService": f"bedrock.{REGION}.amazonaws.com"}})
    assert _ingest(bedrock, role, make_key(kms, key_policy(via)))["status"] == "COMPLETE"


@pytest.mark.parametrize("state, code", [("disable", "DisabledException"),
                                         ("schedule", "KMSInvalidStateException")])
def test_unusable_key_fails(acct, bedrock, kms, role, state, code):
    key = make_key(kms, key_policy(allow(role)))
    key_id = key.rsplit("/", 1)[-1]  # moto 5.2.5 takes only the bare id here
    if state == "disable":
        kms.disable_key(KeyId=key_id)
    else:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    job = _ingest(bedrock, role, key)
    assert job["status"] == "FAILED" and code in job["failureReasons"][0]
    assert [r.get("errorCode") for r in _kms_records(acct, key)] == [code]


def test_missing_key_fails(bedrock, role):
    missing = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    job = _ingest(bedrock, role, missing)
    assert job["status"] == "FAILED" and "NotFoundException" in job["failureReasons"][0]
