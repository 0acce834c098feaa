"""Least-privilege key policies: administrators administer, cmk-guard manages, knowledge base roles only use.

No statement grants ``kms:*`` and no statement has ``"Principal": "*"``. The use statement grants exactly
``kms:GenerateDataKey`` and ``kms:Decrypt`` to the knowledge bases' service roles.
"""

from __future__ import annotations

import json
from typing import Any

from cmk_guard.errors import KeyPolicyError

MAX_POLICY_BYTES = 32 * 1024
USE_SID = "CmkGuardKnowledgeBaseUse"
ADMIN_SID = "CmkGuardKeyAdministration"
MANAGER_SID = "CmkGuardKeyManagement"
INSPECT_SID = "CmkGuardKeyInspection"

USE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
# What cmk-guard's key function needs on keys it created, so it can extend them later (KMS refuses a
# policy that would lock its caller out) and retire a key that lost an alias race.
MANAGER_ACTIONS = (
    "kms:CreateAlias",
    "kms:DescribeKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
)
INSPECT_ACTIONS = ("kms:DescribeKey",)


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    if not isinstance(principal, dict):
        raise KeyPolicyError(f"statement {statement.get('Sid')!r} has a non-AWS principal {principal!r}")
    value = principal.get("AWS", [])
    return [value] if isinstance(value, str) else list(value)


def _statement(sid: str, principals: list[str], actions: tuple[str, ...], condition: dict | None = None) -> dict:
    unique = sorted(dict.fromkeys(principals))
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": unique[0] if len(unique) == 1 else unique},
        "Action": list(actions),
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _use_condition(region: str, via_service: bool) -> dict | None:
    if not via_service:
        return None
    return {"StringEquals": {"kms:ViaService": f"bedrock.{region}.amazonaws.com"}}


def build_key_policy(
    *,
    admins: list[str],
    manager_role_arn: str,
    inspector_role_arns: list[str],
    key_user_role_arns: list[str],
    region: str,
    via_service_condition: bool = False,
) -> dict[str, Any]:
    """The policy of a key cmk-guard creates."""
    if not admins:
        raise KeyPolicyError("at least one key administrator is required")
    if not key_user_role_arns:
        raise KeyPolicyError("a key without a knowledge base role to use it is pointless")
    statements = [
        _statement(ADMIN_SID, admins, ADMIN_ACTIONS),
        _statement(MANAGER_SID, [manager_role_arn], MANAGER_ACTIONS),
    ]
    if inspector_role_arns:
        statements.append(_statement(INSPECT_SID, inspector_role_arns, INSPECT_ACTIONS))
    statements.append(
        _statement(USE_SID, key_user_role_arns, USE_ACTIONS, _use_condition(region, via_service_condition))
    )
    return {"Version": "2012-10-17", "Id": "cmk-guard", "Statement": statements}


def parse_policy(text: str) -> dict[str, Any]:
    """Parse a key policy, refusing anything that is not a policy document."""
    try:
        policy = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise KeyPolicyError(f"key policy is not valid JSON: {exc}") from exc
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        policy["Statement"] = [statements]
    elif not isinstance(statements, list):
        raise KeyPolicyError("key policy has no Statement list")
    return policy


def key_users(policy: dict[str, Any]) -> set[str]:
    """The principals of cmk-guard's use statement."""
    for statement in policy["Statement"]:
        if statement.get("Sid") == USE_SID:
            return set(_principals(statement))
    return set()


def with_key_user(
    policy: dict[str, Any], role_arn: str, *, region: str, via_service_condition: bool = False
) -> tuple[dict[str, Any], bool]:
    """Return the policy with ``role_arn`` allowed to use the key, and whether anything changed. Idempotent."""
    if role_arn in key_users(policy):
        return policy, False
    statements = [dict(s) for s in policy["Statement"]]
    for index, statement in enumerate(statements):
        if statement.get("Sid") == USE_SID:
            statements[index] = _statement(
                USE_SID, [*_principals(statement), role_arn], USE_ACTIONS, statement.get("Condition")
            )
            break
    else:
        statements.append(_statement(USE_SID, [role_arn], USE_ACTIONS, _use_condition(region, via_service_condition)))
    return {**policy, "Statement": statements}, True


def render(policy: dict[str, Any]) -> str:
    """Serialise a policy compactly, refusing one over the 32 KB key-policy quota."""
    text = json.dumps(policy, separators=(",", ":"), sort_keys=False)
    size = len(text.encode())
    if size > MAX_POLICY_BYTES:
        raise KeyPolicyError(f"key policy would be {size} bytes, over the {MAX_POLICY_BYTES}-byte KMS limit")
    return text
