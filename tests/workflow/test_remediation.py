"""The foundation's cases, each run through the real state machine with the real handlers on the emulated account."""

from __future__ import annotations

import json

import boto3
import pytest

from cmk_guard_local import lambda_runtime
from cmk_guard_local.emulator import Fault
from cmk_guard_local.scenario import data_source_configurations, vector_ingestion_configurations

from .helpers import data_source, finish, key_policy, outcome_for, writes_by_cmk_guard

USE_SID = "CmkGuardKnowledgeBaseUse"


def use_principals(policy: dict) -> set[str]:
    statement = next(s for s in policy["Statement"] if s.get("Sid") == USE_SID)
    principal = statement["Principal"]["AWS"]
    return {principal} if isinstance(principal, str) else set(principal)


def test_aws_owned_key_is_remediated_and_verified(account, estate, stack) -> None:
    # GIVEN a knowledge base whose role has a path, and a data source created without a key
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies", description="HR policies", data_deletion_policy="RETAIN")
    # WHEN the CloudTrail event reaches the workflow
    outcomes = finish(stack)
    # THEN the data source is on a new, rotating, tagged, aliased key only the role may use, and the fix is verified
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert outcome["outcome"] == "REMEDIATED_VERIFIED", outcome
    assert outcome["check"]["reason"] == "AWS_OWNED_KEY"
    key_arn = outcome["key"]["keyArn"]
    assert outcome["key"]["created"] is True
    assert data_source(account.region, kb["knowledgeBaseId"], ds["dataSourceId"])["serverSideEncryptionConfiguration"] == {
        "kmsKeyArn": key_arn
    }
    kms = boto3.client("kms", region_name=account.region)
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    assert kms.get_key_rotation_status(KeyId=key_arn)["RotationPeriodInDays"] == 365
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_arn)["Tags"]}
    assert tags["cmk-guard:managed"] == "true"
    aliases = [a["AliasName"] for a in kms.list_aliases(KeyId=key_arn)["Aliases"]]
    assert aliases == [f"alias/cmk-guard/kb/{kb['knowledgeBaseId']}"]
    assert use_principals(key_policy(account.region, key_arn)) == {role}
    assert outcome["ingestion"]["status"] == "COMPLETE"
    assert {e["eventName"] for e in outcome["verification"]["events"]} >= {"GenerateDataKey"}
    assert len(outcomes) == 1, "cmk-guard's own UpdateDataSource must not start another workflow"


@pytest.mark.parametrize("kind", ["aws-managed", "disabled", "pending-deletion", "missing"])
def test_unusable_keys_are_remediated_with_their_reason(account, estate, stack, kind: str) -> None:
    role = estate.kb_role()
    kms = boto3.client("kms", region_name=account.region)
    if kind == "aws-managed":
        key_arn, reason = estate.aws_managed_key(), "AWS_MANAGED_KEY"
    else:
        key_arn = estate.customer_key([role])
        if kind == "disabled":
            kms.disable_key(KeyId=key_arn.rsplit("/", 1)[-1])
            reason = "KEY_DISABLED"
        elif kind == "pending-deletion":
            kms.schedule_key_deletion(KeyId=key_arn.rsplit("/", 1)[-1], PendingWindowInDays=7)
            reason = "KEY_PENDING_DELETION"
        else:
            key_arn, reason = key_arn[:-4] + "0000", "KEY_NOT_FOUND"
    kb = estate.knowledge_base("handbook", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies", kms_key_arn=key_arn)
    finish(stack)
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert (outcome["outcome"], outcome["check"]["reason"]) == ("REMEDIATED_VERIFIED", reason)
    assert outcome["check"]["currentKeyArn"] == key_arn
    assert outcome["apply"]["previousKeyArn"] == key_arn
    assert outcome["key"]["keyArn"] != key_arn


def test_already_compliant_writes_nothing(account, estate, stack) -> None:
    role = estate.kb_role()
    key_arn = estate.customer_key([role])
    kb = estate.knowledge_base("handbook", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies", kms_key_arn=key_arn)
    finish(stack)
    assert outcome_for(stack, ds["dataSourceId"])["outcome"] == "ALREADY_COMPLIANT"
    assert writes_by_cmk_guard(account, stack) == []
    assert stack.notifications() == [], "a compliant data source is not worth an e-mail"


@pytest.mark.parametrize(
    ("kb_type", "tags", "ds_type", "reason"),
    [
        ("VECTOR", {"cmk-guard:mode": "exempt", "cmk-guard:exempt-reason": "sandbox"}, "S3", "EXEMPT"),
        ("MANAGED", None, "S3", "MANAGED_KNOWLEDGE_BASE"),
        ("SQL", None, "REDSHIFT_METADATA", "NO_TRANSIENT_DATA_ENCRYPTION"),
    ],
)
def test_skips_write_nothing(account, estate, stack, kb_type, tags, ds_type, reason) -> None:
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role, tags=tags, kb_type=kb_type)
    configuration = {"type": ds_type} if ds_type == "REDSHIFT_METADATA" else None
    ds = estate.data_source(kb["knowledgeBaseId"], "policies", configuration)
    finish(stack)
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert (outcome["outcome"], outcome["check"]["reason"]) == ("SKIPPED", reason)
    assert writes_by_cmk_guard(account, stack) == []
    assert [n["subject"] for n in stack.notifications()] == [f"cmk-guard SKIPPED: {kb['knowledgeBaseId']}/{ds['dataSourceId']}"]


def test_second_data_source_reuses_the_knowledge_base_key(account, estate, stack) -> None:
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    first = estate.data_source(kb["knowledgeBaseId"], "policies")
    finish(stack)
    second = estate.data_source(kb["knowledgeBaseId"], "contracts")
    finish(stack)
    one, two = outcome_for(stack, first["dataSourceId"]), outcome_for(stack, second["dataSourceId"])
    assert one["key"]["keyArn"] == two["key"]["keyArn"]
    assert (one["key"]["created"], two["key"]["created"]) == (True, False)
    assert two["key"]["policyChanged"] is False
    assert writes_by_cmk_guard(account, stack).count(("kms", "CreateKey")) == 1


def test_existing_strategy_adds_the_role_once(account, estate, make_stack) -> None:
    role = estate.kb_role()
    existing = estate.customer_key([])
    stack = make_stack(KeyStrategy="existing", ExistingKeyArn=existing)
    kb = estate.knowledge_base("handbook", role)
    for name in ("policies", "contracts", "minutes"):
        estate.data_source(kb["knowledgeBaseId"], name)
        finish(stack)
    outcomes = stack.outcomes()
    assert [o["outcome"] for o in outcomes] == ["REMEDIATED_VERIFIED"] * 3
    assert {o["key"]["keyArn"] for o in outcomes} == {existing}
    assert [o["key"]["policyChanged"] for o in outcomes] == [True, False, False]
    policy = key_policy(account.region, existing)
    assert sum(1 for s in policy["Statement"] if s.get("Sid") == USE_SID) == 1
    assert use_principals(policy) == {role}
    writes = writes_by_cmk_guard(account, stack)
    assert writes.count(("kms", "PutKeyPolicy")) == 1
    assert ("kms", "CreateKey") not in writes


def test_per_role_shares_keys_by_role(account, estate, make_stack) -> None:
    stack = make_stack(KeyStrategy="per-role")
    shared, other = estate.kb_role("kb-shared"), estate.kb_role("kb-other")
    sources = {}
    for name, role in (("alpha", shared), ("beta", shared), ("gamma", other)):
        kb = estate.knowledge_base(name, role)
        sources[name] = estate.data_source(kb["knowledgeBaseId"], "docs")["dataSourceId"]
    finish(stack)
    keys = {name: outcome_for(stack, ds)["key"]["keyArn"] for name, ds in sources.items()}
    assert keys["alpha"] == keys["beta"] != keys["gamma"]
    assert use_principals(key_policy(account.region, keys["alpha"])) == {shared}
    assert use_principals(key_policy(account.region, keys["gamma"])) == {other}


def test_per_tag_shares_keys_by_group_only(account, estate, make_stack) -> None:
    stack = make_stack(KeyStrategy="per-tag")
    roles = {n: estate.kb_role(f"kb-{n}") for n in ("a1", "a2", "b1", "none")}
    groups = {"a1": "tenant-a", "a2": "tenant-a", "b1": "tenant-b", "none": None}
    sources = {}
    for name, group in groups.items():
        kb = estate.knowledge_base(name, roles[name], tags={"cmk-guard:key-group": group} if group else None)
        sources[name] = estate.data_source(kb["knowledgeBaseId"], "docs")["dataSourceId"]
    finish(stack)
    keys = {name: outcome_for(stack, ds)["key"]["keyArn"] for name, ds in sources.items()}
    assert keys["a1"] == keys["a2"]
    assert len({keys["a1"], keys["b1"], keys["none"]}) == 3
    assert use_principals(key_policy(account.region, keys["a1"])) == {roles["a1"], roles["a2"]}
    assert use_principals(key_policy(account.region, keys["none"])) == {roles["none"]}


def test_own_updates_and_failed_calls_start_nothing(account, estate, stack) -> None:
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    estate.data_source(kb["knowledgeBaseId"], "policies")
    finish(stack)
    updates = [d for d in stack.deliveries if d.record["eventName"] == "UpdateDataSource"]
    assert len(updates) == 1 and not updates[0].matched, "cmk-guard's own UpdateDataSource must not match the rule"
    failed = dict(updates[0].record, errorCode="ValidationException", userIdentity={"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/dev"})
    assert not stack.deliver(failed).matched
    by_user = dict(updates[0].record, userIdentity={"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/dev"})
    assert stack.matches(stack.envelope(by_user)), "the same update by a person must match"


CONFIGS = data_source_configurations("us-east-1", "123456789012")
VECTORS = vector_ingestion_configurations("us-east-1")


def test_every_other_field_is_unchanged_for_every_type(account, estate, stack) -> None:
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    created = {}
    for ds_type, configuration in CONFIGS.items():
        for label, vector in VECTORS.items():
            if ds_type == "CUSTOM" and label == "semantic+transformation":
                continue
            name = f"{ds_type.lower()}-{label.replace('+', '-')}"
            ds = estate.data_source(
                kb["knowledgeBaseId"], name, configuration, vector_ingestion=vector, description=f"{ds_type} source", data_deletion_policy="DELETE"
            )
            created[ds["dataSourceId"]] = data_source(account.region, kb["knowledgeBaseId"], ds["dataSourceId"])
    finish(stack, timeout=180)
    for ds_id, before in created.items():
        after = data_source(account.region, kb["knowledgeBaseId"], ds_id)
        assert outcome_for(stack, ds_id)["outcome"] == "REMEDIATED_VERIFIED"
        for field in ("name", "description", "dataSourceConfiguration", "dataDeletionPolicy", "vectorIngestionConfiguration"):
            assert json.dumps(after.get(field), sort_keys=True) == json.dumps(before.get(field), sort_keys=True), (ds_id, field)
        assert "kmsKeyArn" in after["serverSideEncryptionConfiguration"]


def test_data_source_deleted_before_the_update_fails_clearly(account, estate, stack) -> None:
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    agent = boto3.client("bedrock-agent", region_name=account.region)

    def delete_after_check(function, event, result, lines) -> None:
        if function.name.endswith("CheckFunction") and isinstance(result, dict) and result.get("target"):
            target = result["target"]
            agent.delete_data_source(knowledgeBaseId=target["knowledgeBaseId"], dataSourceId=target["dataSourceId"])

    lambda_runtime.on_invoke(delete_after_check)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    finish(stack)
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert outcome["outcome"] == "FAILED"
    assert "ResourceGoneError" in outcome["reason"] and ds["dataSourceId"] in outcome["reason"]
    assert not any(op == "UpdateDataSource" for _, op in writes_by_cmk_guard(account, stack))
    # The key was created before the data source vanished: it is kept (the knowledge base's next data source
    # reuses it) and reported in the notification.
    notes = stack.notifications()
    assert len(notes) == 1 and outcome["key"]["keyArn"] in notes[0]["message"]


def test_denied_read_is_unknown_writes_nothing_and_notifies(account, estate, stack) -> None:
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    account.faults.add("bedrock-agent", "GetKnowledgeBase", Fault.ACCESS_DENIED, principal=stack.role_arns["CheckFunctionRole"])
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    finish(stack)
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert (outcome["outcome"], outcome["check"]["verdict"]) == ("UNKNOWN", "UNKNOWN")
    assert "AccessDenied" in outcome["reason"]
    assert writes_by_cmk_guard(account, stack) == []
    notes = stack.notifications()
    assert len(notes) == 1 and notes[0]["subject"].startswith("cmk-guard UNKNOWN")


def test_no_kms_event_before_the_deadline_is_unverified(account, estate, make_stack) -> None:
    stack = make_stack(env={"VERIFY_TIMEOUT_MINUTES": "0.05"})
    account.cloudtrail.delivery_delay_seconds = 3600
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    finish(stack)
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert outcome["outcome"] == "REMEDIATED_UNVERIFIED"
    assert outcome["verification"]["attempt"] >= 2, "it polled more than once before giving up"
    assert data_source(account.region, kb["knowledgeBaseId"], ds["dataSourceId"])["serverSideEncryptionConfiguration"]["kmsKeyArn"] == outcome["key"]["keyArn"]


def test_a_malformed_event_fails_clearly_once_and_is_notified(account, stack) -> None:
    bad = {
        "version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail", "source": "aws.bedrock",
        "account": account.account_id, "time": "2026-11-29T06:00:00Z", "region": account.region,
        "detail": {"eventID": "e-1", "eventName": "UpdateDataSource", "eventSource": "bedrock.amazonaws.com",
                   "eventTime": "2026-11-29T06:00:00Z", "awsRegion": account.region,
                   "requestParameters": {"knowledgeBaseId": "<script>", "dataSourceId": "DS12345678"}},
    }
    execution = stack.start(bad)
    assert stack.wait(execution)["status"] == "FAILED"
    (outcome,) = stack.outcomes()
    assert outcome["outcome"] == "FAILED"
    assert outcome["reason"].startswith("InvalidEventError:") and "knowledgeBaseId" in outcome["reason"]
    checks = [e for e in stack.history(execution) if e["type"] == "LambdaFunctionScheduled"]
    assert len(checks) == 2, "Check once (never retried), then RecordOutcome"
    (note,) = stack.notifications()
    assert "InvalidEventError" in note["message"]
