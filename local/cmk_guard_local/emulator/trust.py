"""``sts:AssumeRole`` against the role's trust policy (moto assumes any role, trusted or not).

For a role that exists in the emulated IAM of its account, the trust policy decides: an explicit Deny refuses, an
Allow must name the caller (its role or user ARN, its session ARN, or its account root) and its conditions must hold
(``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalOrgID`` of the emulated organization,
``sts:ExternalId``); unevaluable conditions fail closed. The caller's own identity policy is not evaluated. A role the
emulated IAM does not know is assumed the way moto does, so scratch tests can still reach any account.
"""

from __future__ import annotations

import json
from typing import Any

from .identity import Principal
from .kms_policy import _as_list, _conditions, _load, _principal_match, _statements

ASSUME_ROLE = "sts:AssumeRole"


def _trust_policy(role_arn: str) -> dict[str, Any] | None:
    """The role's trust policy from moto's IAM, or ``None`` when moto does not know the role."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6:
        return None
    try:
        role = iam_backends[parts[4]][parts[1]].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - unknown role
        return None
    document = role.assume_role_policy_document
    return _load(document) if isinstance(document, (str, dict)) else json.loads(str(document))


def _context(principal: Principal, params: dict[str, Any], organization_id: str | None) -> dict[str, str]:
    context = {"aws:principalarn": principal.arn, "aws:principalaccount": principal.account_id}
    if organization_id:
        context["aws:principalorgid"] = organization_id
    if params.get("ExternalId") is not None:
        context["sts:externalid"] = str(params["ExternalId"])
    return context


def refusal(principal: Principal, params: dict[str, Any], organization_id: str | None) -> str | None:
    """Why ``principal`` may not assume ``params["RoleArn"]`` (AWS wording), or ``None`` when it may."""
    role_arn = str(params.get("RoleArn", ""))
    policy = _trust_policy(role_arn)
    if policy is None:
        return None
    context = _context(principal, params, organization_id)
    allowed = False
    for statement in _statements(policy):
        if not any(str(a).lower() in (ASSUME_ROLE.lower(), "sts:*", "*") for a in _as_list(statement.get("Action"))):
            continue
        if _principal_match(statement, principal) is None:
            continue
        holds = _conditions(statement.get("Condition"), context)
        if statement.get("Effect") == "Deny" and holds is not False:
            allowed = False
            break
        if statement.get("Effect") == "Allow" and holds is True:
            allowed = True
    if allowed:
        return None
    return f"User: {principal.session_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
