"""Helpers for the end-to-end tests: run a scenario through the real state machine and read what happened."""

from __future__ import annotations

import json
from typing import Any

import boto3

from cmk_guard_local.emulator import EmulatedAccount
from cmk_guard_local.stack import EmulatedStack

BEDROCK_WRITES = frozenset({"UpdateDataSource", "CreateDataSource", "DeleteDataSource", "StartIngestionJob", "TagResource"})
KMS_WRITES = frozenset(
    {"CreateKey", "CreateAlias", "PutKeyPolicy", "EnableKeyRotation", "TagResource", "ScheduleKeyDeletion", "CreateGrant"}
)


def finish(stack: EmulatedStack, timeout: float = 90) -> list[dict[str, Any]]:
    """Wait for every started execution; return the ledger's outcomes."""
    stack.wait_all(timeout)
    return stack.outcomes()


def outcome_for(stack: EmulatedStack, data_source_id: str) -> dict[str, Any]:
    matches = [o for o in stack.outcomes() if (o.get("target") or {}).get("dataSourceId") == data_source_id]
    assert len(matches) == 1, f"expected one outcome for {data_source_id}, got {[m['outcome'] for m in matches]}"
    return matches[0]


def writes_by_cmk_guard(account: EmulatedAccount, stack: EmulatedStack) -> list[tuple[str, str]]:
    """KMS and Bedrock write calls made by cmk-guard's own roles."""
    roles = set(stack.role_arns.values())
    return [
        (c.service, c.operation)
        for c in account.calls
        if c.principal in roles
        and ((c.service == "kms" and c.operation in KMS_WRITES) or (c.service == "bedrock-agent" and c.operation in BEDROCK_WRITES))
    ]


def data_source(region: str, kb_id: str, ds_id: str) -> dict[str, Any]:
    return boto3.client("bedrock-agent", region_name=region).get_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)[
        "dataSource"
    ]


def key_policy(region: str, key_arn: str) -> dict[str, Any]:
    return json.loads(boto3.client("kms", region_name=region).get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
