"""The hook function as CloudFormation calls it: cmk-guard deployed from template.yaml on the emulated account, the
request sent with ``lambda:Invoke`` in the documented shape, the real handler running as its own role and reading
real (emulated) knowledge bases and tags through boto3."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cmk_guard_local.emulator import Fault

from .requests import ACCOUNT, KEY_ARN, hook_request, properties


@pytest.fixture
def hook_stack(make_stack: Any) -> Any:
    return make_stack(EnablePreventiveHook="fail")


def invoke(stack: Any, request: Any) -> dict[str, Any]:
    """Invoke the hook function; a function error (an exception in the handler) fails the test."""
    response = boto3.client("lambda", region_name=stack.region).invoke(
        FunctionName=stack.refs["HookFunction"], Payload=json.dumps(request).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def hook_calls(account: Any, stack: Any) -> list[str]:
    role = stack.role_arns["HookFunctionRole"]
    return [c.operation for c in account.calls if c.principal == role]


def test_no_key_is_refused_naming_the_knowledge_base_and_the_fix(account, estate, hook_stack) -> None:
    # GIVEN a knowledge base that exists (CloudFormation created it before the data source) and is not exempt
    kb = estate.knowledge_base("handbook", estate.kb_role())
    request = hook_request(properties(kb["knowledgeBaseId"]), logical_id="HandbookPolicies", token="token-1")
    # WHEN CloudFormation asks the hook about a data source without a key
    answer = invoke(hook_stack, request)
    # THEN the hook refuses, naming the resource, the knowledge base and how to fix it
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant"
    assert answer["clientRequestToken"] == "token-1"
    words = ("HandbookPolicies", kb["knowledgeBaseId"], "KmsKeyArn", "kms:GenerateDataKey", "cmk-guard:mode=exempt")
    for expected in words:
        assert expected in answer["message"]
    assert answer["annotations"][0]["status"] == "FAILED"
    # AND it looked at the knowledge base's type and tags, as its own role, before refusing
    assert hook_calls(account, hook_stack) == ["GetKnowledgeBase", "ListTagsForResource"]


def test_a_literal_key_arn_is_allowed_without_reading_anything(account, estate, hook_stack) -> None:
    kb = estate.knowledge_base("handbook", estate.kb_role())
    key = estate.customer_key()
    answer = invoke(hook_stack, hook_request(properties(kb["knowledgeBaseId"], key=key)))
    assert answer["hookStatus"] == "SUCCESS" and "errorCode" not in answer
    assert key in answer["message"]
    assert answer["annotations"][0]["status"] == "PASSED"
    assert hook_calls(account, hook_stack) == []


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/team-key", "alias ARN"),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "not a KMS key ARN"),
        (KEY_ARN.replace("us-east-1", "eu-west-1"), "in eu-west-1, but the data source is in us-east-1"),
    ],
)
def test_a_key_bedrock_cannot_use_is_refused(estate, hook_stack, key: str, words: str) -> None:
    kb = estate.knowledge_base("handbook", estate.kb_role())
    answer = invoke(hook_stack, hook_request(properties(kb["knowledgeBaseId"], key=key)))
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant"
    assert words in answer["message"] and key in answer["message"]
    assert answer["annotations"][0]["remediationMessage"]


@pytest.mark.parametrize(
    "key",
    [{"Ref": "TeamKeyArn"}, {"Fn::GetAtt": ["TeamKey", "Arn"]}, {"Fn::ImportValue": "shared-key-arn"}],
)
def test_an_unresolved_key_passes_with_a_warning(account, hook_stack, key: dict[str, Any]) -> None:
    answer = invoke(hook_stack, hook_request(properties(key=key)))
    assert answer["hookStatus"] == "SUCCESS"
    assert "not resolved when the hook runs" in answer["message"]
    assert answer["annotations"][0] | {"statusMessage": ""} == {
        "annotationName": "CmkGuardDataSourceCustomerManagedKey",
        "status": "SKIPPED",
        "statusMessage": "",
        "severityLevel": "MEDIUM",
        "remediationMessage": answer["annotations"][0]["remediationMessage"],
    }
    assert hook_calls(account, hook_stack) == []


def test_redshift_metadata_passes(hook_stack) -> None:
    answer = invoke(hook_stack, hook_request(properties(kind="REDSHIFT_METADATA")))
    assert answer["hookStatus"] == "SUCCESS" and "takes no transient-data key" in answer["message"]


def test_the_exemption_tag_is_honoured(estate, hook_stack) -> None:
    tags = {"cmk-guard:mode": "exempt", "cmk-guard:exempt-reason": "public marketing copy"}
    kb = estate.knowledge_base("brochures", estate.kb_role(), tags=tags)
    answer = invoke(hook_stack, hook_request(properties(kb["knowledgeBaseId"])))
    assert answer["hookStatus"] == "SUCCESS"
    assert "tagged cmk-guard:mode=exempt (public marketing copy)" in answer["message"]


def test_another_mode_tag_is_no_exemption(estate, hook_stack) -> None:
    kb = estate.knowledge_base("handbook", estate.kb_role(), tags={"cmk-guard:mode": "notify"})
    answer = invoke(hook_stack, hook_request(properties(kb["knowledgeBaseId"])))
    assert answer["hookStatus"] == "FAILED" and "not tagged cmk-guard:mode=exempt" in answer["message"]


def test_a_managed_knowledge_base_passes(estate, hook_stack) -> None:
    kb = estate.knowledge_base("managed", estate.kb_role(), kb_type="MANAGED")
    answer = invoke(hook_stack, hook_request(properties(kb["knowledgeBaseId"])))
    assert answer["hookStatus"] == "SUCCESS" and "MANAGED knowledge base" in answer["message"]


@pytest.mark.parametrize(
    ("fault", "operation"), [(Fault.ACCESS_DENIED, "ListTagsForResource"), (Fault.THROTTLE, "GetKnowledgeBase")]
)
def test_an_unreadable_exemption_keeps_the_refusal(account, estate, hook_stack, no_backoff, fault, operation) -> None:
    # GIVEN an exempt knowledge base whose tags the hook cannot read
    kb = estate.knowledge_base("brochures", estate.kb_role(), tags={"cmk-guard:mode": "exempt"})
    role = hook_stack.role_arns["HookFunctionRole"]
    account.faults.add("bedrock-agent", operation, fault, times=None, principal=role)
    # WHEN the hook is asked about a data source without a key
    answer = invoke(hook_stack, hook_request(properties(kb["knowledgeBaseId"])))
    # THEN without proof of the exemption the refusal stands, and the message says why
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant"
    assert "could not check whether knowledge base" in answer["message"]
    # AND a throttled read is tried twice only: CloudFormation waits at most 30 seconds for the answer
    assert hook_calls(account, hook_stack).count(operation) == (2 if fault is Fault.THROTTLE else 1)


def test_a_knowledge_base_that_does_not_exist_cannot_be_exempt(hook_stack) -> None:
    answer = invoke(hook_stack, hook_request(properties("NOSUCHKB01")))
    assert answer["hookStatus"] == "FAILED" and "NOSUCHKB01" in answer["message"]
    assert "could not check whether knowledge base NOSUCHKB01 is exempt" in answer["message"]


def test_an_update_that_keeps_a_key_passes_and_one_that_drops_it_is_refused(estate, hook_stack) -> None:
    kb = estate.knowledge_base("handbook", estate.kb_role())
    key = estate.customer_key()
    with_key, without_key = properties(kb["knowledgeBaseId"], key=key), properties(kb["knowledgeBaseId"])
    keeps = hook_request(with_key, previous=with_key, point="UPDATE_PRE_PROVISION")
    drops = hook_request(without_key, previous=with_key, point="UPDATE_PRE_PROVISION")
    assert invoke(hook_stack, keeps)["hookStatus"] == "SUCCESS"
    answer = invoke(hook_stack, drops)
    assert answer["hookStatus"] == "FAILED" and f"would remove the key it has now ({key})" in answer["message"]


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        ({"Name": "x", "DataSourceConfiguration": {"Type": "S3"}}, "KnowledgeBaseId is missing"),
        ({"KnowledgeBaseId": "KBID012345", "Name": "x"}, "DataSourceConfiguration is missing"),
        (properties(encryption="alias/aws/bedrock"), "ServerSideEncryptionConfiguration must be an object, not str"),
        (properties(key=42), "KmsKeyArn must be a string, not int"),
        (None, "no resourceProperties"),
    ],
)
def test_a_malformed_data_source_gets_a_clear_refusal(account, hook_stack, props: Any, problem: str) -> None:
    answer = invoke(hook_stack, hook_request(props, logical_id="Broken"))
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant"
    assert "data source Broken cannot be evaluated" in answer["message"] and problem in answer["message"]
    assert hook_calls(account, hook_stack) == []


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        ({"requestData": {}}, "clientRequestToken is missing"),
        ({"clientRequestToken": "t", "actionInvocationPoint": "CREATE_PRE_PROVISION"}, "requestData is missing"),
        ([1, 2, 3], "must be a JSON object"),
    ],
)
def test_a_malformed_request_is_an_internal_failure_not_a_crash(hook_stack, request_: Any, problem: str) -> None:
    answer = invoke(hook_stack, request_)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "InternalFailure"
    assert problem in answer["message"]
    sent = request_.get("clientRequestToken", "") if isinstance(request_, dict) else ""
    assert answer["clientRequestToken"] == sent


def test_an_unexpected_error_is_an_internal_failure_not_a_crash(hook_stack, monkeypatch) -> None:
    import cmk_guard.steps.hook as step

    def explode(*_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(step, "assess", explode)
    answer = invoke(hook_stack, hook_request(properties(), token="t-9"))
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "InternalFailure"
    assert "RuntimeError" in answer["message"] and answer["clientRequestToken"] == "t-9"


def test_other_resource_types_and_deletes_pass_untouched(account, hook_stack) -> None:
    for request_ in (
        hook_request({"BucketName": "x"}, target="AWS::S3::Bucket"),
        hook_request(None, previous=properties(), point="DELETE_PRE_PROVISION"),
    ):
        answer = invoke(hook_stack, request_)
        assert answer["hookStatus"] == "SUCCESS" and "was not evaluated" in answer["message"]
    assert hook_calls(account, hook_stack) == []
