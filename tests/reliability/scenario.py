"""The reliability suite's reference scenario and what it observes, shared by its tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import boto3

from cmk_guard_local.emulator import EmulatedAccount
from cmk_guard_local.scenario import Estate
from cmk_guard_local.stack import EmulatedStack

# The emulation harness itself, not the workflow: the rule match that EmulatedStack runs in whatever thread made
# the CloudTrail-recorded call (so it can appear under a function's role).
HARNESS_CALLS = frozenset({("events", "TestEventPattern")})


@dataclass
class Run:
    kb_id: str
    ds_id: str
    role_arn: str
    old_key_arn: str


def start_reference_run(estate: Estate) -> Run:
    """A knowledge base and a data source on a disabled customer-managed key: every step runs, the check's
    DescribeKey included."""
    role = estate.kb_role()
    old_key = estate.customer_key([role])
    boto3.client("kms", region_name=estate.region).disable_key(KeyId=old_key.rsplit("/", 1)[-1])
    kb = estate.knowledge_base("handbook", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies", kms_key_arn=old_key, description="HR policies")
    return Run(kb["knowledgeBaseId"], ds["dataSourceId"], role, old_key)


def workflow_calls(account: EmulatedAccount, stack: EmulatedStack) -> Counter[tuple[str, str, str]]:
    """Attempts per (role logical id, service, operation) made by cmk-guard's own roles."""
    roles = {arn: logical_id for logical_id, arn in stack.role_arns.items()}
    return Counter(
        (roles[c.principal], c.service, c.operation)
        for c in account.calls
        if c.principal in roles and (c.service, c.operation) not in HARNESS_CALLS
    )


def _served(account: EmulatedAccount, stack: EmulatedStack, role: str, service: str, operation: str) -> int:
    """Calls that reached the service (attempts answered by an injected fault changed nothing)."""
    arn = stack.role_arns[role]
    return sum(1 for c in account.calls if (c.principal, c.service, c.operation) == (arn, service, operation) and c.fault is None)


def updates_by_cmk_guard(account: EmulatedAccount, stack: EmulatedStack) -> int:
    return _served(account, stack, "ApplyFunctionRole", "bedrock-agent", "UpdateDataSource")


def keys_created(account: EmulatedAccount, stack: EmulatedStack) -> int:
    return _served(account, stack, "KeyFunctionRole", "kms", "CreateKey")
