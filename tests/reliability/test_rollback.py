"""After the update, an ingestion that cannot use the key: repair the policy cmk-guard wrote when that is the cause
and retry once; otherwise restore nothing on its own, report, and keep the way back in the ledger."""

from __future__ import annotations

import json

import boto3

from cmk_guard_local import cli, lambda_runtime

from .scenario import updates_by_cmk_guard

USE_SID = "CmkGuardKnowledgeBaseUse"


def _strip_role(key_arn: str, region: str) -> None:
    """What a person editing the key policy by hand might do: drop the knowledge base role's use statement."""
    kms = boto3.client("kms", region_name=region)
    policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != USE_SID]
    kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))


def _after_key_step(region: str, action) -> list[str]:
    """Run ``action(key_arn)`` right after every key function invocation that returned a key; returns what ran."""
    seen: list[str] = []

    def listener(function, event, result, lines) -> None:
        if function.name.endswith("KeyFunction") and isinstance(result, dict) and result.get("keyArn"):
            seen.append(event.get("action") or "provision")
            action(result["keyArn"])

    lambda_runtime.on_invoke(listener)
    return seen


def test_a_role_removed_from_the_key_policy_is_put_back_and_the_ingestion_retried_once(account, estate, fast_stack) -> None:
    # GIVEN someone removes the knowledge base role from the new key's policy right after cmk-guard wrote it
    stack = fast_stack()
    calls = _after_key_step(account.region, lambda key: _strip_role(key, account.region) if len(calls) == 1 else None)
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    (execution,) = stack.wait_all()
    # THEN the first ingestion fails on the key, cmk-guard puts the role back, the second ingestion uses the key
    (outcome,) = stack.outcomes()
    assert outcome["outcome"] == "REMEDIATED_VERIFIED", outcome["reason"]
    assert outcome["repair"]["repaired"] is True and role in outcome["repair"]["cause"]
    assert outcome["repair"]["failedJobId"] != outcome["ingestion"]["jobId"]
    assert outcome["ingestion"]["status"] == "COMPLETE"
    assert calls == ["provision", "repair"]
    policy = json.loads(boto3.client("kms").get_key_policy(KeyId=outcome["key"]["keyArn"], PolicyName="default")["Policy"])
    use = next(s for s in policy["Statement"] if s["Sid"] == USE_SID)
    assert use["Principal"]["AWS"] == role and sorted(use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert updates_by_cmk_guard(account, stack) == 1
    jobs = [c for c in account.calls if c.operation == "StartIngestionJob" and c.principal == stack.role_arns["IngestFunctionRole"]]
    assert len(jobs) == 2
    assert execution["status"] == "SUCCEEDED" and ds["dataSourceId"] == outcome["target"]["dataSourceId"]


def test_the_repair_happens_once_then_the_failure_is_reported(account, estate, fast_stack) -> None:
    # GIVEN someone removes the role again every time cmk-guard puts it back
    stack = fast_stack()
    seen = _after_key_step(account.region, lambda key: _strip_role(key, account.region))
    kb = estate.knowledge_base("handbook", estate.kb_role())
    estate.data_source(kb["knowledgeBaseId"], "policies")
    (execution,) = stack.wait_all()
    # THEN one repair, two ingestions, and FAILED saying so, with the way back
    (outcome,) = stack.outcomes()
    assert seen == ["provision", "repair"]
    assert execution["status"] == "FAILED" and outcome["outcome"] == "FAILED"
    assert "key policy repair: the role was put back and the ingestion retried once" in outcome["reason"]
    assert "cmk-guard restore" in outcome["reason"]


def test_a_failure_with_another_cause_restores_nothing_and_reports_the_way_back(account, estate, fast_stack, capsys) -> None:
    # GIVEN someone disables the new key right after cmk-guard created it
    stack = fast_stack()
    kms = boto3.client("kms", region_name=account.region)
    _after_key_step(account.region, lambda key: kms.disable_key(KeyId=key.rsplit("/", 1)[-1]))
    kb = estate.knowledge_base("handbook", estate.kb_role())
    ds = estate.data_source(kb["knowledgeBaseId"], "policies", description="HR policies", data_deletion_policy="RETAIN")
    agent = boto3.client("bedrock-agent", region_name=account.region)
    before = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    stack.wait_all()
    # THEN cmk-guard does not touch the key or the data source again: FAILED, the reason and the restore command
    (outcome,) = stack.outcomes()
    assert outcome["outcome"] == "FAILED"
    assert outcome["repair"]["repaired"] is False and "Disabled" in outcome["repair"]["cause"]
    command = f"cmk-guard restore --region {account.region} --knowledge-base-id {kb['knowledgeBaseId']} --data-source-id {ds['dataSourceId']}"
    assert command in outcome["reason"]
    assert updates_by_cmk_guard(account, stack) == 1
    (note,) = stack.notifications()
    assert command in note["message"]
    # WHEN the operator runs the command without --apply: it prints the restoring request and changes nothing
    args = command.split()[1:] + ["--table", stack.ledger_table]
    assert cli.main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {k: before[k] for k in ("knowledgeBaseId", "dataSourceId", "name", "description", "dataSourceConfiguration", "dataDeletionPolicy")}
    current = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    assert current["serverSideEncryptionConfiguration"]["kmsKeyArn"] == outcome["key"]["keyArn"]
    # AND with --apply the data source is back as it was
    assert cli.main([*args, "--apply"]) == 0
    restored = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    assert "serverSideEncryptionConfiguration" not in restored
    assert {k: restored.get(k) for k in printed} == printed


def test_restore_refuses_to_undo_changes_made_since(account, estate, fast_stack, capsys) -> None:
    stack = fast_stack()
    kb = estate.knowledge_base("handbook", estate.kb_role())
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    stack.wait_all()
    agent = boto3.client("bedrock-agent", region_name=account.region)
    current = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    stack.auto_deliver = False
    agent.update_data_source(
        knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"], name=current["name"], description="edited later",
        dataSourceConfiguration=current["dataSourceConfiguration"], serverSideEncryptionConfiguration=current["serverSideEncryptionConfiguration"],
    )
    args = ["restore", "--knowledge-base-id", kb["knowledgeBaseId"], "--data-source-id", ds["dataSourceId"], "--table", stack.ledger_table, "--apply"]
    assert cli.main(args) == 3
    assert "description" in capsys.readouterr().err
    after = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    assert after["description"] == "edited later" and after["serverSideEncryptionConfiguration"] == current["serverSideEncryptionConfiguration"]
    assert cli.main(["restore", "--knowledge-base-id", "NOSUCHKB00", "--data-source-id", ds["dataSourceId"], "--table", stack.ledger_table]) == 2
