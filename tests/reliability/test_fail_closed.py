"""What cannot be read or parsed never leads to an automatic write."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from cmk_guard_local.emulator import Fault

from .scenario import keys_created, updates_by_cmk_guard


def _shared_key_ready(estate, stack) -> tuple[str, str]:
    """A knowledge base whose first data source already got cmk-guard's key: the next one reuses and extends it."""
    kb = estate.knowledge_base("handbook", estate.kb_role())
    estate.data_source(kb["knowledgeBaseId"], "first")
    (first,) = [o for o in (stack.wait_all() and stack.outcomes())]
    assert first["outcome"] == "REMEDIATED_VERIFIED"
    return kb["knowledgeBaseId"], first["key"]["keyArn"]


def test_an_unreadable_key_policy_fails_before_anything_is_written(account, estate, fast_stack) -> None:
    stack = fast_stack(KeyStrategy="per-role")
    kb_id, key_arn = _shared_key_ready(estate, stack)
    account.faults.add("kms", "GetKeyPolicy", Fault.ACCESS_DENIED, principal=stack.role_arns["KeyFunctionRole"])
    role = boto3.client("bedrock-agent").get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]["roleArn"]
    other = estate.knowledge_base("second", role)  # same role: per-role reuses the key and must read its policy
    estate.data_source(other["knowledgeBaseId"], "docs")
    stack.wait_all()
    second = stack.outcomes()[-1]
    assert second["outcome"] == "FAILED" and "GetKeyPolicy" in second["reason"]
    assert updates_by_cmk_guard(account, stack) == 1, "only the first data source was updated"
    assert not [c for c in account.calls if c.operation == "PutKeyPolicy" and c.principal in stack.role_arns.values()]


UNPARSEABLE = [
    {"Version": "2012-10-17"},  # no statements at all
    {"Version": "2012-10-17", "Statement": [  # cmk-guard's use statement with a principal it cannot read
        {"Sid": "CmkGuardKnowledgeBaseUse", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
    ]},
]


@pytest.mark.parametrize("policy", UNPARSEABLE, ids=["no-statement", "unreadable-principal"])
def test_an_unparseable_key_policy_fails_before_anything_is_written(account, estate, make_stack, policy) -> None:
    # GIVEN ExistingKeyArn whose policy cmk-guard cannot make sense of
    key_arn = estate.customer_key([])
    boto3.client("kms").put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    stack = make_stack(KeyStrategy="existing", ExistingKeyArn=key_arn)
    kb = estate.knowledge_base("handbook", estate.kb_role())
    estate.data_source(kb["knowledgeBaseId"], "docs")
    stack.wait_all()
    (outcome,) = stack.outcomes()
    # THEN FAILED saying why; the policy and the data source are untouched
    assert outcome["outcome"] == "FAILED" and "KeyPolicyError" in outcome["reason"]
    assert updates_by_cmk_guard(account, stack) == 0 and keys_created(account, stack) == 0
    assert json.loads(boto3.client("kms").get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]) == policy


@pytest.mark.parametrize("tag", ["", "auto please", "approve", "=auto", "AUTO:NOW"])
def test_an_unknown_mode_tag_never_writes(account, estate, fast_stack, tag) -> None:
    stack = fast_stack()
    kb = estate.knowledge_base("handbook", estate.kb_role(), tags={"cmk-guard:mode": tag})
    estate.data_source(kb["knowledgeBaseId"], "docs")
    # Fail-closed means approval: the workflow stops and waits for a person before any write.
    (execution,) = [d.execution_arn for d in stack.deliveries if d.execution_arn]
    entered = _wait_for_state(stack, execution, "RequestApproval")
    check = next(e for e in stack.history(execution) if e.get("stateExitedEventDetails", {}).get("name") == "Check")
    result = json.loads(check["stateExitedEventDetails"]["output"])["check"]
    assert result["mode"] == "approval" and result["modeSource"] == "fail-closed"
    assert entered, "the workflow waits for a decision"
    assert updates_by_cmk_guard(account, stack) == 0 and keys_created(account, stack) == 0


def _wait_for_state(stack, execution: str, name: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = [e["stateEnteredEventDetails"]["name"] for e in stack.history(execution) if "stateEnteredEventDetails" in e]
        if name in names:
            return True
        time.sleep(0.1)
    return False
