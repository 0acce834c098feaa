"""Many accounts: member.yaml in a second emulated account, the central workflow remediating there.

The central stack (template.yaml with OrganizationId) runs in the emulated default account; member.yaml's roles are
created in a second account exactly as written, and the emulated sts:AssumeRole honours their trust policies.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cmk_guard_local.emulator import Fault, acting_as
from cmk_guard_local.organization import MemberStack, member_estate

from .helpers import KMS_WRITES

MEMBER = "210987654321"
REGION = "us-east-1"
ORGANIZATION = "o-a1b2c3d4e5"
EXTERNAL_ID = "cmk-guard-7f3a9c2e-member-trust"
MEMBER_ROLE = f"arn:aws:iam::{MEMBER}:role/cmk-guard-member-{{step}}-{REGION}"


@pytest.fixture
def central(account, make_stack):
    account.organization_id = ORGANIZATION
    return make_stack(OrganizationId=ORGANIZATION, MemberExternalId=EXTERNAL_ID)


@pytest.fixture
def member(central) -> MemberStack:
    return MemberStack(central, MEMBER, EXTERNAL_ID, ORGANIZATION).deploy()


def _member_data_source(member: MemberStack, **kwargs: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    estate = member_estate(member)
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    return role, kb, estate.data_source(kb["knowledgeBaseId"], "policies", **kwargs)


def _param(record: dict[str, Any], name: str) -> str:
    """A request parameter of a CloudTrail record (CloudTrail writes them camelCase; the emulation as sent)."""
    params = record["requestParameters"]
    return str(params.get(name[0].lower() + name[1:], params.get(name, "")))


def _finish(central, member: MemberStack) -> list[dict[str, Any]]:
    executions = [f.execution_arn for f in member.forwardings if f.execution_arn]
    assert executions, f"nothing was forwarded: {member.forwardings}"
    for execution in executions:
        central.wait(execution)
    return central.outcomes()


def test_member_data_source_is_fixed_in_its_account_and_recorded_centrally(account, central, member) -> None:
    # GIVEN a data source created without a key in the member account
    role, kb, ds = _member_data_source(member)
    # WHEN the member's rule forwards the event to the central bus and the workflow runs
    (outcome,) = _finish(central, member)
    # THEN the outcome is in the central ledger, for the member's data source
    assert outcome["outcome"] == "REMEDIATED_VERIFIED", outcome
    assert outcome["target"]["accountId"] == MEMBER
    key_arn = outcome["key"]["keyArn"]
    # ... the key lives in the member account, managed by the member key role, used only by the KB role
    assert key_arn.split(":")[4] == MEMBER
    member_kms = member.session().client("kms")
    policy = json.loads(member_kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    principals = {s["Sid"]: s["Principal"]["AWS"] for s in policy["Statement"]}
    assert principals["CmkGuardKeyManagement"] == MEMBER_ROLE.format(step="key")
    assert set(principals["CmkGuardKeyInspection"]) == {MEMBER_ROLE.format(step="check"), MEMBER_ROLE.format(step="apply")}
    assert principals["CmkGuardKnowledgeBaseUse"] == role
    assert principals["CmkGuardKeyAdministration"] == f"arn:aws:iam::{MEMBER}:root"
    # ... the data source is updated there, by the member apply role, and that update is not forwarded again
    bedrock = member.session().client("bedrock-agent")
    live = bedrock.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    assert live["serverSideEncryptionConfiguration"] == {"kmsKeyArn": key_arn}
    updates = [f for f in member.forwardings if f.record["eventName"] == "UpdateDataSource"]
    assert [f.matched for f in updates] == [False]
    assert updates[0].record["userIdentity"]["arn"].startswith(
        f"arn:aws:sts::{MEMBER}:assumed-role/cmk-guard-member-apply-{REGION}/cmk-guard-apply-"
    )
    # ... nothing was written in the central account's KMS, and its default bus started nothing
    central_writes = [c for c in account.calls if c.service == "kms" and c.operation in KMS_WRITES
                      and c.principal.split(":")[4] != MEMBER]
    assert central_writes == []
    assert central.deliveries == []
    assert boto3.client("kms", region_name=REGION).list_keys()["Keys"] == []


def test_each_step_acts_as_its_own_member_role_with_the_execution_in_the_session_name(account, central, member) -> None:
    _member_data_source(member)
    (outcome,) = _finish(central, member)
    execution = outcome["executionArn"].rsplit(":", 1)[-1]
    assumed = [r for r in account.cloudtrail.events_for("123456789012", REGION) if r["eventName"] == "AssumeRole"]
    by_role = {_param(r, "RoleArn"): r for r in assumed
               if _param(r, "RoleArn").startswith(f"arn:aws:iam::{MEMBER}:role/cmk-guard-member-")}
    assert set(by_role) == {MEMBER_ROLE.format(step=s) for s in ("check", "key", "apply", "ingest", "confirm")}
    for role_arn, record in by_role.items():
        step = role_arn.split("cmk-guard-member-")[1].rsplit(f"-{REGION}", 1)[0]
        assert _param(record, "RoleSessionName") == f"cmk-guard-{step}-{execution}"
        assert _param(record, "ExternalId") == EXTERNAL_ID
        assert record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == central.role_arns[
            f"{step.capitalize()}FunctionRole"]
    member_principals = {c.principal for c in account.calls if c.service in {"bedrock-agent", "kms", "cloudtrail"}
                         and c.principal.startswith(f"arn:aws:iam::{MEMBER}:role/cmk-guard-member-")}
    assert member_principals == {MEMBER_ROLE.format(step=s) for s in ("check", "key", "apply", "ingest", "confirm")}


def test_denied_assume_role_in_the_check_step_ends_unknown_and_changes_nothing(account, central, member) -> None:
    # GIVEN the member's check role cannot be assumed
    account.faults.add("sts", "AssumeRole", Fault.ACCESS_DENIED, principal=central.role_arns["CheckFunctionRole"])
    _role, kb, ds = _member_data_source(member)
    # WHEN the forwarded event runs the workflow
    (outcome,) = _finish(central, member)
    # THEN the verdict is UNKNOWN, saying which role in which account could not be assumed; nothing changed
    assert outcome["outcome"] == "UNKNOWN", outcome
    assert outcome["check"]["verdict"] == "UNKNOWN"
    detail = outcome["check"]["detail"]
    assert f"cannot act in account {MEMBER}" in detail
    assert f"sts:AssumeRole on {MEMBER_ROLE.format(step='check')} was refused" in detail
    assert "key" not in outcome and "apply" not in outcome
    live = member.session().client("bedrock-agent").get_data_source(
        knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    assert "serverSideEncryptionConfiguration" not in live
    assert member.session().client("kms").list_keys()["Keys"] == []
    (notice,) = central.notifications()
    assert "UNKNOWN" in notice["subject"] and MEMBER in notice["message"]


def test_a_wrong_external_id_is_refused_by_the_member_trust_policy(account, make_stack) -> None:
    # GIVEN member roles that require another external id than the central stack sends
    account.organization_id = ORGANIZATION
    central = make_stack(OrganizationId=ORGANIZATION, MemberExternalId="a-different-external-id-0000")
    member = MemberStack(central, MEMBER, EXTERNAL_ID, ORGANIZATION).deploy()
    _member_data_source(member)
    (outcome,) = _finish(central, member)
    assert outcome["outcome"] == "UNKNOWN", outcome
    assert "is not authorized to perform: sts:AssumeRole" in outcome["check"]["detail"]


def test_denied_assume_role_after_the_check_fails_with_the_reason(account, central, member) -> None:
    account.faults.add("sts", "AssumeRole", Fault.ACCESS_DENIED, principal=central.role_arns["KeyFunctionRole"])
    _member_data_source(member)
    (outcome,) = _finish(central, member)
    assert outcome["outcome"] == "FAILED", outcome
    assert outcome["check"]["verdict"] == "NON_COMPLIANT"
    assert f"sts:AssumeRole on {MEMBER_ROLE.format(step='key')} was refused" in outcome["reason"]


@pytest.mark.parametrize("step", ["check", "key", "apply", "ingest", "confirm"])
def test_each_member_role_trusts_only_its_own_central_step(account, central, member, step: str) -> None:
    sts = boto3.client("sts", region_name=REGION)
    target = MEMBER_ROLE.format(step=step)
    for other, role in {s: f"{s.capitalize()}FunctionRole" for s in ("check", "key", "apply", "ingest", "confirm", "record")}.items():
        with acting_as(central.role_arns[role]):
            if other == step:
                assert sts.assume_role(RoleArn=target, RoleSessionName="probe", ExternalId=EXTERNAL_ID)["Credentials"]
                with pytest.raises(sts.exceptions.ClientError, match="AccessDenied"):
                    sts.assume_role(RoleArn=target, RoleSessionName="probe")  # no external id
            else:
                with pytest.raises(sts.exceptions.ClientError, match="AccessDenied"):
                    sts.assume_role(RoleArn=target, RoleSessionName="probe", ExternalId=EXTERNAL_ID)


def test_outside_the_organization_the_member_roles_cannot_be_assumed(account, central, member) -> None:
    account.organization_id = "o-someotherorg1"
    sts = boto3.client("sts", region_name=REGION)
    with acting_as(central.role_arns["CheckFunctionRole"]), pytest.raises(sts.exceptions.ClientError, match="AccessDenied"):
        sts.assume_role(RoleArn=MEMBER_ROLE.format(step="check"), RoleSessionName="probe", ExternalId=EXTERNAL_ID)


def test_the_central_bus_accepts_only_the_organizations_forwarding_roles(central, member) -> None:
    forwarder = member.role_arns["ForwardingRole"]
    assert forwarder == f"arn:aws:iam::{MEMBER}:role/cmk-guard-member-forward-{REGION}"
    assert member.bus.accepts(forwarder, ORGANIZATION)
    assert not member.bus.accepts(forwarder, "o-someotherorg1")
    assert not member.bus.accepts(f"arn:aws:iam::{MEMBER}:role/some-other-role", ORGANIZATION)
