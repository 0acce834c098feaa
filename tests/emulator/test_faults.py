"""Injected faults on emulated and moto-served services, seen and retried by botocore like real ones."""

from __future__ import annotations

import time

import pytest
from botocore.config import Config

from cmk_guard_local.emulator import Fault, acting_as

from .helpers import ACCOUNT, make_ds, make_kb, make_role

ROLE = f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-apply"


@pytest.fixture
def ds(bedrock, iam) -> tuple[str, str]:
    kb_id = make_kb(bedrock, make_role(iam))
    return kb_id, make_ds(bedrock, kb_id)


def test_throttle_is_absorbed_by_botocore_retries(acct, bedrock, ds, no_backoff):
    acct.faults.add(service="bedrock-agent", operation="GetDataSource", fault=Fault.THROTTLE, times=2)
    response = bedrock.get_data_source(knowledgeBaseId=ds[0], dataSourceId=ds[1])
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    attempts = [c for c in acct.calls if c.operation == "GetDataSource"]
    assert [c.fault for c in attempts] == [Fault.THROTTLE, Fault.THROTTLE, None]
    assert len(no_backoff.sleeps) == 2  # botocore backed off between attempts
    codes = [r.get("errorCode") for r in acct.cloudtrail.events if r["eventName"] == "GetDataSource"]
    assert codes == ["ThrottlingException", "ThrottlingException", None]


def test_persistent_throttle_raises_the_modeled_exception(acct, bedrock, ds, no_backoff):
    acct.faults.add(service="bedrock-agent", operation="GetDataSource", fault=Fault.THROTTLE, times=None)
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        bedrock.get_data_source(knowledgeBaseId=ds[0], dataSourceId=ds[1])
    assert acct.call_counts()[("bedrock-agent", "GetDataSource")] == 3
    acct.faults.clear()
    bedrock.get_data_source(knowledgeBaseId=ds[0], dataSourceId=ds[1])


@pytest.mark.parametrize("fault, exc", [(Fault.NOT_FOUND, "ResourceNotFoundException"),
                                        (Fault.CONFLICT, "ConflictException"),
                                        (Fault.ACCESS_DENIED, "AccessDeniedException")])
def test_bedrock_fault_kinds(acct, bedrock, ds, fault, exc):
    acct.faults.add("bedrock-agent", "GetDataSource", fault, times=1)
    with pytest.raises(getattr(bedrock.exceptions, exc)):
        bedrock.get_data_source(knowledgeBaseId=ds[0], dataSourceId=ds[1])


def test_fault_on_moto_service_uses_its_codes_and_has_no_side_effect(acct, session, kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    acct.faults.add(service="kms", operation="DescribeKey", fault=Fault.ACCESS_DENIED, times=1)
    with pytest.raises(kms.exceptions.ClientError) as caught:
        kms.describe_key(KeyId=key_id)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id

    acct.faults.add("kms", "CreateKey", Fault.SERVER_ERROR, times=None)
    no_retry = session.client("kms", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with pytest.raises(no_retry.exceptions.KMSInternalException):
        no_retry.create_key()
    assert len(kms.list_keys()["Keys"]) == 1  # moto never executed the faulted CreateKey


def test_server_error_on_moto_service_is_retried(acct, session, no_backoff):
    ddb = session.client("dynamodb")
    acct.faults.add("dynamodb", "ListTables", Fault.SERVER_ERROR, times=1)
    assert ddb.list_tables()["ResponseMetadata"]["RetryAttempts"] == 1
    sts = session.client("sts", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    acct.faults.add("sts", "GetCallerIdentity", Fault.THROTTLE, times=1)
    with pytest.raises(sts.exceptions.ClientError) as caught:
        sts.get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "Throttling"  # query-protocol XML error parsed


def test_principal_filter_and_latency(acct, bedrock, ds):
    acct.faults.add("bedrock-agent", "GetDataSource", Fault.ACCESS_DENIED, principal=ROLE)
    bedrock.get_data_source(knowledgeBaseId=ds[0], dataSourceId=ds[1])  # default principal: unaffected
    with acting_as(ROLE), pytest.raises(bedrock.exceptions.AccessDeniedException, match="cmk-guard-apply"):
        bedrock.get_data_source(knowledgeBaseId=ds[0], dataSourceId=ds[1])
    assert acct.calls[-1].principal == ROLE and acct.calls[-1].fault is Fault.ACCESS_DENIED

    acct.faults.clear()
    acct.faults.add("bedrock-agent", "GetKnowledgeBase", Fault.LATENCY, seconds=0.2, times=1)
    started = time.monotonic()
    bedrock.get_knowledge_base(knowledgeBaseId=ds[0])
    assert time.monotonic() - started >= 0.2
