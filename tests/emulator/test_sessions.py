"""AccountSessions: member-account clients through AssumeRole, against the emulated STS and trust policies."""

from __future__ import annotations

import json

import boto3
import pytest

from cmk_guard.adapters.sessions import AccountSessions, MemberAccess, session_name
from cmk_guard.errors import AccessDeniedError, TransientError
from cmk_guard_local.emulator import Fault, acting_as

from .helpers import ACCOUNT, REGION

MEMBER = "210987654321"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cmk-guard-remediate:4f1c2d3e-aaaa-bbbb-cccc-0123456789ab"
CENTRAL_CHECK = f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-CheckFunctionRole"
EXTERNAL_ID = "external-id-for-tests-0001"


def _access(organization: str = "o-a1b2c3d4e5") -> MemberAccess:
    return MemberAccess(home_account_id=ACCOUNT, home_region=REGION, organization_id=organization,
                        role_prefix="cmk-guard-member", external_id=EXTERNAL_ID)


def _assume_calls(acct) -> list:
    return [c for c in acct.calls if (c.service, c.operation) == ("sts", "AssumeRole")]


def test_session_name_carries_step_and_execution_and_fits_sts_limits() -> None:
    assert session_name("check", EXECUTION) == "cmk-guard-check-4f1c2d3e-aaaa-bbbb-cccc-0123456789ab"
    odd = session_name("apply", "arn:aws:states:r:1:execution:m:" + "x y/z!" * 30)
    assert len(odd) == 64 and " " not in odd and "/" not in odd and "!" not in odd


def test_home_account_uses_the_functions_own_credentials(acct) -> None:
    sessions = AccountSessions(_access(), "check", EXECUTION)
    with acting_as(CENTRAL_CHECK):
        sessions.client("bedrock-agent", ACCOUNT, REGION).list_knowledge_bases()
    assert _assume_calls(acct) == []


def test_member_credentials_are_assumed_lazily_once_per_account_and_region(acct) -> None:
    sessions = AccountSessions(_access(), "check", EXECUTION)
    with acting_as(CENTRAL_CHECK):
        first = sessions.client("bedrock-agent", MEMBER, REGION)
        assert _assume_calls(acct) == [], "no AssumeRole before the first call"
        first.list_knowledge_bases()
        sessions.client("kms", MEMBER, REGION).list_keys()
        assert len(_assume_calls(acct)) == 1
        sessions.client("kms", MEMBER, "eu-west-1").list_keys()
    assert len(_assume_calls(acct)) == 2
    member_calls = [c for c in acct.calls if c.service in {"bedrock-agent", "kms"}]
    assert {c.principal for c in member_calls} == {
        f"arn:aws:iam::{MEMBER}:role/cmk-guard-member-check-{REGION}",
        f"arn:aws:iam::{MEMBER}:role/cmk-guard-member-check-eu-west-1",
    }


def test_a_refused_assume_role_surfaces_at_the_first_call_with_a_clear_reason(acct) -> None:
    acct.faults.add("sts", "AssumeRole", Fault.ACCESS_DENIED)
    sessions = AccountSessions(_access(), "apply", EXECUTION)
    with acting_as(CENTRAL_CHECK):
        client = sessions.client("bedrock-agent", MEMBER, REGION)
        with pytest.raises(AccessDeniedError) as caught:
            client.list_knowledge_bases()
    message = str(caught.value)
    assert f"cannot act in account {MEMBER}" in message
    assert f"arn:aws:iam::{MEMBER}:role/cmk-guard-member-apply-{REGION}" in message


def test_a_throttled_assume_role_is_transient(acct, no_backoff) -> None:
    acct.faults.add("sts", "AssumeRole", Fault.THROTTLE)
    sessions = AccountSessions(_access(), "ingest", EXECUTION)
    with acting_as(CENTRAL_CHECK), pytest.raises(TransientError):
        sessions.client("bedrock-agent", MEMBER, REGION).list_knowledge_bases()


def test_without_an_organization_other_accounts_are_refused_without_calling_sts(acct) -> None:
    sessions = AccountSessions(_access(organization=""), "check", EXECUTION)
    with pytest.raises(AccessDeniedError, match="OrganizationId is empty"):
        sessions.client("bedrock-agent", MEMBER, REGION)
    assert _assume_calls(acct) == []


def test_the_record_step_never_acts_in_a_member_account() -> None:
    with pytest.raises(ValueError):
        AccountSessions(_access(), "record", EXECUTION)


def test_the_external_id_is_sent_and_the_trust_policy_decides(acct) -> None:
    # A member role created through member credentials, trusting the central check role with the external id.
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": CENTRAL_CHECK},
                      "StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole", RoleSessionName="admin")["Credentials"]
    member_iam = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], region_name=REGION).client("iam")
    member_iam.create_role(RoleName=f"cmk-guard-member-check-{REGION}", AssumeRolePolicyDocument=json.dumps(trust))
    with acting_as(CENTRAL_CHECK):
        AccountSessions(_access(), "check", EXECUTION).client("kms", MEMBER, REGION).list_keys()
    wrong = MemberAccess(**{**_access().__dict__, "external_id": "another-external-id-0000"})
    with acting_as(CENTRAL_CHECK), pytest.raises(AccessDeniedError, match="not authorized to perform: sts:AssumeRole"):
        AccountSessions(wrong, "check", EXECUTION).client("kms", MEMBER, REGION).list_keys()
    with acting_as(f"arn:aws:iam::{ACCOUNT}:role/cmk-guard-KeyFunctionRole"), pytest.raises(AccessDeniedError):
        AccountSessions(_access(), "check", EXECUTION).client("kms", MEMBER, REGION).list_keys()
