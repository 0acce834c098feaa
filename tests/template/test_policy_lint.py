"""A policy linter (parliament, pinned, offline) finds nothing in any policy cmk-guard deploys or generates.

Every policy document of template.yaml (after the SAM transform, so the state machine's generated role is included)
and of member.yaml, with every condition both ways, and the key policies the code builds for each strategy and
extends for each new knowledge base role. The only findings dropped are the documented EXCEPTIONS of
cmk_guard_local.policy_lint, each for something parliament cannot know.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmk_guard.core import key_policy
from cmk_guard_local import policy_lint
from cmk_guard_local.policy_lint import Policy, documents, fake_refs, lint
from cmk_guard_local.template import load_template, parameters

from .conftest import ROOT

ACCOUNT = policy_lint.ACCOUNT_ID
REGION = policy_lint.REGION
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{policy_lint.KEY_ID}"
CENTRAL_PARAMETERS = {
    "OrganizationId": "o-a1b2c3d4e5",
    "MemberExternalId": "cmk-guard-external-id-0001",
    "KeyStrategy": "existing",
    "ExistingKeyArn": KEY_ARN,
}
MEMBER_PARAMETERS = {
    "CentralEventBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/cmk-guard-organization",
    **{f"Central{step}RoleArn": f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-{step}FunctionRole-AbC123"
       for step in ("Check", "Key", "Apply", "Ingest", "Confirm")},
    "OrganizationId": "o-a1b2c3d4e5",
    "ExternalId": "cmk-guard-external-id-0001",
}


def _policies(template: dict[str, Any], overrides: dict[str, str], condition_value: bool) -> list[Policy]:
    refs = fake_refs(template, {**parameters(template), **overrides})
    # The SAM-generated rule the untransformed queue policy names (the transformed template has it).
    refs.setdefault("RemediateStateMachineDataSourceChange.Arn", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/sam-rule")
    conditions = {name: condition_value for name in template.get("Conditions") or {}}
    return documents(template, refs, conditions)


@pytest.fixture(scope="module")
def member_template() -> dict[str, Any]:
    return load_template(ROOT / "member.yaml")


@pytest.mark.parametrize("conditions", [True, False], ids=["organization+existing-key", "one-account"])
def test_every_policy_in_the_central_template_is_clean(transformed: dict[str, Any], conditions: bool) -> None:
    policies = _policies(transformed, CENTRAL_PARAMETERS, conditions)
    kinds = {p.kind for p in policies}
    assert kinds == {"identity", "trust", "resource", "key"}, kinds
    assert len(policies) >= (22 if conditions else 18)
    findings = [str(f) for p in policies for f in lint(p)]
    assert findings == []


def test_every_policy_in_the_member_template_is_clean(member_template: dict[str, Any]) -> None:
    policies = _policies(member_template, MEMBER_PARAMETERS, True)
    assert len([p for p in policies if p.kind == "trust"]) == 6
    findings = [str(f) for p in policies for f in lint(p)]
    assert findings == []


ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonBedrockExecutionRoleForKnowledgeBase_hr"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/kb-tenant-b"
MANAGER = f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-KeyFunctionRole-AbC123"
INSPECTORS = [f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-CheckFunctionRole-AbC123",
              f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-ApplyFunctionRole-AbC123"]


def _generated_key_policies() -> dict[str, dict[str, Any]]:
    """The policies run_key writes: a created key (per-knowledge-base, per-role and per-tag build the same way), a
    shared key extended with a second role, and an 'existing' key extended with cmk-guard's use statement."""
    policies: dict[str, dict[str, Any]] = {}
    for via_service in (False, True):
        for admins in ([f"arn:aws:iam::{ACCOUNT}:root"], [f"arn:aws:iam::{ACCOUNT}:role/key-admins"]):
            created = key_policy.build_key_policy(
                admins=admins, manager_role_arn=MANAGER, inspector_role_arns=INSPECTORS,
                key_user_role_arns=[ROLE], region=REGION, via_service_condition=via_service)
            name = f"created(via_service={via_service}, admins={admins[0].rsplit(':', 1)[-1]})"
            policies[name] = created
            policies[f"shared {name}"], changed = key_policy.with_key_user(
                created, OTHER_ROLE, region=REGION, via_service_condition=via_service)
            assert changed
    existing = {"Version": "2012-10-17", "Statement": [{
        "Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy"], "Resource": "*"}]}
    policies["existing key, extended"], changed = key_policy.with_key_user(existing, ROLE, region=REGION)
    assert changed
    return policies


@pytest.mark.parametrize("name", sorted(_generated_key_policies()))
def test_key_policies_the_code_generates_are_clean(name: str) -> None:
    document = _generated_key_policies()[name]
    findings = [str(f) for f in lint(Policy(name, "key", document))]
    assert findings == []


def test_the_linter_still_reports_what_it_should() -> None:
    # Guards the exceptions: a wildcard action, an unknown action and a mismatched resource are still findings.
    bad = Policy("probe", "identity", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decryptt", "Resource": "*"},
        {"Effect": "Allow", "Action": ["bedrock:GetDataSource"], "Resource": f"arn:aws:s3:::bucket/*"},
        {"Effect": "Allow", "Action": ["kms:CreateAlias"], "Resource": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"},
    ]})
    issues = {f.issue for f in lint(bad)}
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH"} <= issues
    key = Policy("probe-key", "key", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "not-an-arn"}, "Action": "kms:Decrypt", "Resource": "*"}]})
    assert lint(key), "a malformed principal in a key policy is a finding"
    trust = Policy("probe-trust", "trust", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRolee"}]})
    assert {f.issue for f in lint(trust)} == {"UNKNOWN_ACTION"}
