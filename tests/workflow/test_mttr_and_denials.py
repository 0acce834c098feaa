"""MTTR runs from the CloudTrail event; KMS access errors on cmk-guard's keys reach the denials function through the
rule in template.yaml and are counted, others are not."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from cmk_guard_local.emf import parse_lines
from cmk_guard_local.emulator import Fault, acting_as
from cmk_guard_local.showcase import late
from cmk_guard_local.stack import EmulatedStack

from .helpers import outcome_for

APP_ROLE = "arn:aws:iam::123456789012:role/reporting-app"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def emitted(stack: EmulatedStack, logical_id: str, name: str) -> list[tuple[dict[str, str], float]]:
    assert stack.logs is not None
    data = parse_lines(stack.logs.messages(stack.functions[logical_id].name))
    return [(d.dimension_map, v) for d in data if d.name == name for v in d.values]


def test_mttr_runs_from_the_cloudtrail_event_time_not_from_the_workflow_start(account, estate, make_stack) -> None:
    # GIVEN a data source created without a key, whose CloudTrail event reaches the rule an hour after the call
    stack = make_stack(auto_deliver=False)
    kb = estate.knowledge_base("handbook", estate.kb_role())
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    (record,) = [r for r in account.cloudtrail.events if r["eventName"] == "CreateDataSource"]
    delivered = late(record, 3600)
    # WHEN the workflow runs on the late event
    execution = stack.deliver(delivered).execution_arn
    assert execution is not None
    stack.wait_all()
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert outcome["outcome"] == "REMEDIATED_VERIFIED"
    started = stack.client("stepfunctions").describe_execution(executionArn=execution)["startDate"]
    applied = parse(outcome["apply"]["appliedAt"])
    # THEN the metric is the time from the event to the fix, an hour more than the workflow itself took
    ((dimensions, mttr),) = emitted(stack, "RecordFunction", "TimeToRemediateSeconds")
    assert dimensions == {"service": "cmk-guard"}
    assert mttr == pytest.approx((applied - parse(delivered["eventTime"])).total_seconds(), abs=1e-6)
    workflow = (applied - started).total_seconds()
    assert 0 < workflow < 600
    assert mttr >= workflow + 3600
    ((_, verify),) = emitted(stack, "RecordFunction", "TimeToVerifySeconds")
    assert verify >= mttr


def cmk_guard_key(region: str, knowledge_base_id: str) -> str:
    """A key as cmk-guard leaves it: aliased under alias/cmk-guard/."""
    kms = boto3.client("kms", region_name=region)
    key = kms.create_key(Description="cmk-guard key")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=f"alias/cmk-guard/kb/{knowledge_base_id}", TargetKeyId=key)
    return key


def refuse_decrypt(account, key_arn: str, principal: str = APP_ROLE) -> None:
    """An application's Decrypt on the key is refused (an explicit deny, as KMS would answer)."""
    account.faults.add("kms", "Decrypt", Fault.ACCESS_DENIED, principal=principal, times=1)
    with acting_as(principal), pytest.raises(ClientError, match="AccessDenied"):
        boto3.client("kms", region_name=account.region).decrypt(KeyId=key_arn, CiphertextBlob=b"\x01" * 64)


def test_a_refused_call_on_a_cmk_guard_key_is_counted(account, make_stack) -> None:
    stack = make_stack()
    key = cmk_guard_key(account.region, "KB12345678")
    refuse_decrypt(account, key)
    (invocation,) = stack.wait_invocations()
    assert invocation.rule_id == "KmsAccessDeniedRule" and not invocation.errored
    assert invocation.result["counted"] is True
    assert (invocation.result["keyArn"], invocation.result["eventName"], invocation.result["principal"]) == (
        key, "Decrypt", APP_ROLE,
    )
    assert emitted(stack, "KeyDenialsFunction", "KmsAccessDenied") == [({"Source": "CloudTrail", "service": "cmk-guard"}, 1.0)]
    warning = [json.loads(line) for line in stack.logs.messages(stack.functions["KeyDenialsFunction"].name)
               if '"level":"WARNING"' in line]
    assert len(warning) == 1 and warning[0]["keyArn"] == key and warning[0]["correlation_id"] == invocation.record["eventID"]


def test_a_refused_call_on_another_key_is_not_counted(account, make_stack) -> None:
    stack = make_stack()
    kms = boto3.client("kms", region_name=account.region)
    key = kms.create_key(Description="team key")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/team/reporting", TargetKeyId=key)
    refuse_decrypt(account, key)
    (invocation,) = stack.wait_invocations()
    assert invocation.result == {**invocation.result, "counted": False, "why": "not a key cmk-guard manages"}
    assert emitted(stack, "KeyDenialsFunction", "KmsAccessDenied") == []


def test_the_existing_strategys_key_counts_without_an_alias(account, make_stack) -> None:
    key = boto3.client("kms", region_name=account.region).create_key(Description="platform key")["KeyMetadata"]["Arn"]
    stack = make_stack(KeyStrategy="existing", ExistingKeyArn=key)
    refuse_decrypt(account, key)
    (invocation,) = stack.wait_invocations()
    assert invocation.result["counted"] is True
    assert [v for _, v in emitted(stack, "KeyDenialsFunction", "KmsAccessDenied")] == [1.0]


def test_successful_calls_and_other_errors_invoke_nothing(account, make_stack) -> None:
    stack = make_stack()
    key = cmk_guard_key(account.region, "KB12345678")
    kms = boto3.client("kms", region_name=account.region)
    kms.describe_key(KeyId=key)
    kms.encrypt(KeyId=key, Plaintext=b"x")
    account.faults.add("kms", "Decrypt", Fault.NOT_FOUND, times=1)
    with pytest.raises(ClientError, match="NotFoundException"):
        kms.decrypt(KeyId=key, CiphertextBlob=b"\x01" * 64)  # refused, but not for access
    assert [r["errorCode"] for r in account.cloudtrail.events if r.get("errorCode")] == ["NotFoundException"]
    assert stack.wait_invocations() == []


def test_a_refused_lookup_by_the_denials_function_cannot_loop(account, make_stack) -> None:
    # GIVEN the denials function's own ListAliases is refused (a broken IAM policy)
    stack = make_stack()
    denials_role = stack.role_arns["KeyDenialsFunctionRole"]
    account.faults.add("kms", "ListAliases", Fault.ACCESS_DENIED, principal=denials_role)
    key = cmk_guard_key(account.region, "KB12345678")
    # WHEN a refused call on a cmk-guard key reaches it
    refuse_decrypt(account, key)
    # THEN it fails loudly, and its own refusal, though in CloudTrail, does not come back to it
    (invocation,) = stack.wait_invocations()
    assert invocation.errored and invocation.result["errorType"] == "AccessDeniedError"
    own = [r for r in account.cloudtrail.events if r["eventName"] == "ListAliases" and r.get("errorCode")]
    assert own and all(r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == denials_role for r in own)
    assert len(stack.invocations) == 1


@pytest.mark.parametrize(("event_name", "read_only"), [("Decrypt", True), ("PutKeyPolicy", False)])
def test_only_a_rule_enabled_for_all_management_events_sees_read_only_calls(make_stack, event_name, read_only) -> None:
    # EventBridge hands read-only management events (GenerateDataKey, Decrypt) only to rules in the state
    # ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS; the harness does the same, so the template's state matters.
    stack = make_stack()
    (rule,) = stack.function_rules
    record = {"eventSource": "kms.amazonaws.com", "eventName": event_name, "errorCode": "AccessDenied",
              "readOnly": read_only, "eventID": "e-1", "eventTime": "2026-11-29T06:00:00Z", "awsRegion": "us-east-1",
              "recipientAccountId": "123456789012"}
    event = stack.envelope(record)
    assert stack.rule_receives(rule, event)
    assert stack.rule_receives({**rule, "state": "ENABLED"}, event) is (not read_only)
    assert not stack.rule_receives({**rule, "state": "DISABLED"}, event)
