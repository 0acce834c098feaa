"""Key-policy and identity-policy evaluation for a role using a KMS key (what moto never refuses).

Explicit Deny wins; a key policy Allow naming the role (or ``*``) grants directly; one naming the account root
delegates to the role's IAM identity policies. Conditions are evaluated for a few keys only; a statement whose
conditions cannot be evaluated is treated the fail-closed way (an Allow does not apply, a Deny does).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .identity import Principal


@dataclass(frozen=True)
class Decision:
    """Outcome of an authorization check and, when denied, the reason in AWS wording."""

    allowed: bool
    reason: str = ""


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _statements(policy: str | dict | None) -> list[dict]:
    if not policy:
        return []
    doc = json.loads(policy) if isinstance(policy, str) else policy
    return [s for s in _as_list(doc.get("Statement")) if isinstance(s, dict)]


def _action_matches(patterns: Any, action: str) -> bool:
    return any(fnmatchcase(action.lower(), str(p).lower()) for p in _as_list(patterns))


def _resource_matches(patterns: Any, arn: str) -> bool:
    pats = _as_list(patterns)
    return not pats or any(fnmatchcase(arn, str(p)) for p in pats)


_POSITIVE = {"StringEquals", "StringLike", "ArnEquals", "ArnLike", "StringEqualsIgnoreCase", "Bool"}
_NEGATIVE = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals",
             "ArnNotLike": "ArnLike", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase"}


def _test(op: str, actual: str, values: list[str]) -> bool:
    if op in ("StringLike", "ArnLike"):
        return any(fnmatchcase(actual, v) for v in values)
    if op in ("StringEqualsIgnoreCase", "Bool"):
        return actual.lower() in (v.lower() for v in values)
    return actual in values


def _conditions(block: Any, context: dict[str, str]) -> bool | None:
    """True/False when every condition is evaluable, ``None`` when one is not."""
    if not block:
        return True
    if not isinstance(block, dict):
        return None
    result = True
    for raw_op, entries in block.items():
        if_exists = raw_op.endswith("IfExists")
        op = raw_op[: -len("IfExists")] if if_exists else raw_op
        base = _NEGATIVE.get(op, op)
        if base not in _POSITIVE or not isinstance(entries, dict):
            return None
        for key, wanted in entries.items():
            actual = context.get(key.lower())
            if actual is None:
                if not if_exists:
                    return None
                continue
            ok = _test(base, actual, [str(v) for v in _as_list(wanted)])
            result = result and (not ok if op in _NEGATIVE else ok)
    return result


def _principal_match(statement: dict, principal: Principal) -> str | None:
    """``"direct"``, ``"root"`` (account delegation) or ``None``."""
    spec = statement.get("Principal")
    if spec == "*":
        return "direct"
    if not isinstance(spec, dict):
        return None
    session_arn = principal.session_arn
    for value in _as_list(spec.get("AWS")):
        value = str(value)
        if value in ("*", principal.arn, session_arn):
            return "direct"
        if value in (principal.account_id, f"arn:{principal.partition}:iam::{principal.account_id}:root"):
            return "root"
    return None


def _applies(statement: dict, action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether a statement applies to the request, fail-closed: unevaluable Allow → no, unevaluable Deny → yes."""
    deny = statement.get("Effect") == "Deny"
    if any(k in statement for k in ("NotAction", "NotResource", "NotPrincipal")):
        return deny
    if not _action_matches(statement.get("Action"), action) or not _resource_matches(statement.get("Resource"),
                                                                                     resource):
        return False
    cond = _conditions(statement.get("Condition"), context)
    return deny if cond is None else cond


def _context(principal: Principal, region: str) -> dict[str, str]:
    return {
        "aws:principalarn": principal.arn,
        "aws:principalaccount": principal.account_id,
        "kms:calleraccount": principal.account_id,
        "kms:viaservice": f"bedrock.{region}.amazonaws.com",
        "aws:securetransport": "true",
    }


def identity_policies(principal: Principal) -> list[dict]:
    """The role's inline and attached policy documents from moto's IAM (empty if moto does not know the role)."""
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[principal.account_id][principal.partition].get_role_by_arn(principal.arn)
    except Exception:  # noqa: BLE001 - role unknown to moto
        return []
    docs: list[dict] = []
    for raw in role.policies.values():
        docs.append(_load(raw))
    for managed in role.managed_policies.values():
        for version in managed.versions:
            if version.is_default:
                docs.append(_load(version.document))
    return docs


def _load(raw: str | dict) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        from urllib.parse import unquote

        return json.loads(unquote(raw))


def evaluate(key_policy: str | dict | None, key_arn: str, principal: Principal, action: str, region: str,
             identity_docs: list[dict] | None = None) -> Decision:
    """May ``principal`` perform ``action`` (e.g. ``kms:GenerateDataKey``) on ``key_arn``?"""
    ctx = _context(principal, region)
    direct = delegated = False
    for st in _statements(key_policy):
        how = _principal_match(st, principal)
        if how is None or not _applies(st, action, key_arn, ctx):
            continue
        if st.get("Effect") == "Deny":
            return Decision(False, "of an explicit deny in a resource-based policy")
        if st.get("Effect") == "Allow":
            direct = direct or how == "direct"
            delegated = delegated or how == "root"
    docs = identity_docs if identity_docs is not None else identity_policies(principal)
    identity_allow = False
    for doc in docs:
        for st in _statements(doc):
            if not _applies(st, action, key_arn, ctx):
                continue
            if st.get("Effect") == "Deny":
                return Decision(False, "of an explicit deny in an identity-based policy")
            identity_allow = identity_allow or st.get("Effect") == "Allow"
    if direct or (delegated and identity_allow):
        return Decision(True)
    if delegated:
        return Decision(False, f"no identity-based policy allows the {action} action")
    return Decision(False, f"no resource-based policy allows the {action} action")


_KEY_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/(?P<id>.+)")


def parse_key_arn(arn: str) -> dict[str, str] | None:
    """``partition``/``region``/``account``/``id`` of a KMS key ARN."""
    m = _KEY_ARN.fullmatch(arn)
    return m.groupdict() if m else None
