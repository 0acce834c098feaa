"""docs/iam/data-source-writers-scp.json: well-formed, small enough for an SCP, and denying what README says it denies.

The policy is evaluated with IAM's documented ArnLike rule (each of the six colon-separated ARN parts matched on
its own, ``*`` and ``?`` as wildcards) against the principals a real organisation has.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY_PATH = ROOT / "docs" / "iam" / "data-source-writers-scp.json"
SCP_MAX_CHARACTERS = 5120  # AWS Organizations quota on a service control policy document
ACCOUNT = "111122223333"
KB_ARN = f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:knowledge-base/KBID012345"


def arn_like(value: str, pattern: str) -> bool:
    values, patterns = value.split(":", 5), pattern.split(":", 5)
    return len(values) == len(patterns) == 6 and all(fnmatchcase(v, p) for v, p in zip(values, patterns, strict=True))


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    return json.loads(POLICY_PATH.read_text())


def denied(policy: dict[str, Any], action: str, principal_arn: str, resource: str = KB_ARN) -> bool:
    """Whether the SCP's Deny applies to this request (the SCP allows nothing by itself)."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny" or action not in statement["Action"]:
            continue
        if not arn_like(resource, statement["Resource"]):
            continue
        exceptions = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
        if not any(arn_like(principal_arn, pattern) for pattern in exceptions):
            return True
    return False


def test_the_policy_is_well_formed_and_fits_an_scp(policy: dict[str, Any]) -> None:
    assert policy["Version"] == "2012-10-17"
    assert len(POLICY_PATH.read_text()) <= SCP_MAX_CHARACTERS
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert sorted(statement["Action"]) == ["bedrock:CreateDataSource", "bedrock:UpdateDataSource"]
    # The only condition is who calls: IAM has no condition key on the data source's KMS key.
    assert list(statement["Condition"]) == ["ArnNotLike"]
    assert list(statement["Condition"]["ArnNotLike"]) == ["aws:PrincipalArn"]


@pytest.mark.parametrize(
    ("principal", "is_denied"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/ci-deploy", False),  # the pipeline deploying stacks
        (f"arn:aws:iam::{ACCOUNT}:role/ci-cloudformation-execution", False),  # the stacks' service role
        (f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-ApplyFunctionRole-1XyZ2aBc3DeF", False),  # cmk-guard's fix
        (f"arn:aws:iam::{ACCOUNT}:role/break-glass-admin", False),
        (f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef", True),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", True),
        (f"arn:aws:iam::{ACCOUNT}:role/ci-deploy-sandbox", True),  # a look-alike name is not the pipeline
        # cmk-guard updates data sources from its apply step only
        (f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-CheckFunctionRole-1XyZ2aBc3DeF", True),
    ],
)
def test_only_the_named_roles_may_create_or_update_data_sources(
    policy: dict[str, Any], principal: str, is_denied: bool
) -> None:
    for action in ("bedrock:CreateDataSource", "bedrock:UpdateDataSource"):
        assert denied(policy, action, principal) is is_denied, (action, principal)


def test_other_bedrock_calls_are_untouched(policy: dict[str, Any]) -> None:
    others = ("bedrock:GetDataSource", "bedrock:StartIngestionJob", "bedrock:DeleteDataSource", "bedrock:Retrieve")
    for action in others:
        assert not denied(policy, action, f"arn:aws:iam::{ACCOUNT}:user/alice")
