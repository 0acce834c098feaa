"""Duplicates and races: one CloudTrail event delivered many times, several events for one data source, and
workflows that need one new key at once, each end in exactly one update and one key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import boto3

from cmk_guard_local.emulator import Fault

from .scenario import keys_created, updates_by_cmk_guard

REMEDIATED = {"REMEDIATED_VERIFIED", "REMEDIATED_UNVERIFIED"}


def _records(account, name: str) -> list[dict]:
    return [r for r in account.cloudtrail.events if r.get("eventName") == name and r.get("eventSource") == "bedrock.amazonaws.com"]


def _deliver_all(stack, records: list[dict]) -> list[str]:
    with ThreadPoolExecutor(max_workers=len(records)) as pool:
        deliveries = list(pool.map(stack.deliver, records))
    assert all(d.matched for d in deliveries)
    return [d.execution_arn for d in deliveries]


def test_one_event_delivered_many_times_at_once_is_handled_once(account, estate, manual_stack) -> None:
    # GIVEN a data source created without a key, and its CloudTrail event delivered ten times at once
    stack = manual_stack
    kb = estate.knowledge_base("handbook", estate.kb_role())
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    (record,) = _records(account, "CreateDataSource")
    executions = _deliver_all(stack, [record] * 10)
    results = [stack.wait(arn) for arn in executions]
    # THEN one execution remediates; the nine others see the claim and stop without doing anything
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 10
    (outcome,) = stack.outcomes()
    assert outcome["outcome"] in REMEDIATED and outcome["target"]["dataSourceId"] == ds["dataSourceId"]
    assert updates_by_cmk_guard(account, stack) == 1 and keys_created(account, stack) == 1
    assert len(stack.notifications()) == 1
    duplicates = [arn for arn in executions if arn != outcome["executionArn"]]
    for arn in duplicates:
        names = [e.get("stateEnteredEventDetails", {}).get("name") for e in stack.history(arn) if e["type"].endswith("StateEntered")]
        assert names == ["Check", "RouteVerdict", "DuplicateEvent"]


def test_a_create_and_two_updates_together_give_one_update_and_one_key(account, estate, manual_stack) -> None:
    # GIVEN a user creates a data source without a key and updates it twice before cmk-guard runs
    stack = manual_stack
    agent = boto3.client("bedrock-agent", region_name=account.region)
    kb = estate.knowledge_base("handbook", estate.kb_role())
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    current = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    for text in ("first edit", "second edit"):
        agent.update_data_source(
            knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"], name=current["name"],
            dataSourceConfiguration=current["dataSourceConfiguration"], description=text,
        )
    records = _records(account, "CreateDataSource") + _records(account, "UpdateDataSource")
    assert len(records) == 3
    # WHEN the three events arrive together
    executions = _deliver_all(stack, records)
    for arn in executions:
        stack.wait(arn)
    # THEN cmk-guard updates the data source once, with one key, and keeps the user's last edit
    assert updates_by_cmk_guard(account, stack) == 1 and keys_created(account, stack) == 1
    outcomes = [o["outcome"] for o in stack.outcomes()]
    assert len(outcomes) == 3 and sum(o in REMEDIATED for o in outcomes) >= 1
    assert set(outcomes) <= REMEDIATED | {"SKIPPED", "ALREADY_COMPLIANT"}, outcomes
    after = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    assert after["description"] == "second edit" and after["serverSideEncryptionConfiguration"]["kmsKeyArn"]


def _managed_keys(account) -> list[dict]:
    kms = boto3.client("kms", region_name=account.region)
    return [
        kms.describe_key(KeyId=k["KeyArn"])["KeyMetadata"]
        for k in kms.list_keys()["Keys"]
        if {"TagKey": "cmk-guard:managed", "TagValue": "true"} in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]
    ]


def _keys_used(account, sources: list[tuple[str, str]]) -> set[str]:
    agent = boto3.client("bedrock-agent", region_name=account.region)
    return {agent.get_data_source(knowledgeBaseId=k, dataSourceId=d)["dataSource"]["serverSideEncryptionConfiguration"]["kmsKeyArn"]
            for k, d in sources}


def _one_key_group(estate, names: tuple[str, ...]) -> list[tuple[str, str]]:
    sources = []
    for name in names:
        kb = estate.knowledge_base(name, estate.kb_role(f"kb-{name}"), tags={"cmk-guard:key-group": "tenant-a"})
        sources.append((kb["knowledgeBaseId"], estate.data_source(kb["knowledgeBaseId"], "docs")["dataSourceId"]))
    return sources


def test_knowledge_bases_of_one_key_group_at_once_create_one_key(account, estate, make_stack) -> None:
    # GIVEN three knowledge bases of one key group, their data sources created at once, and alias creation slow
    # enough that the other workflows reach the key step while the first is still creating the key (the state
    # machine's own retry waits, not shortened: the waiting workflows retry until the key is there)
    stack = make_stack(KeyStrategy="per-tag")
    account.bedrock.ingestion_polls_to_finish = 1
    account.faults.add("kms", "CreateAlias", Fault.LATENCY, seconds=3, principal=stack.role_arns["KeyFunctionRole"])
    sources = _one_key_group(estate, ("alpha", "beta", "gamma"))
    executions = stack.wait_all(300)
    # THEN exactly one key was created, nothing was scheduled for deletion, and all three use it
    created = _managed_keys(account)
    assert [m["KeyState"] for m in created] == ["Enabled"]
    assert _keys_used(account, sources) == {created[0]["Arn"]}
    assert [o["outcome"] for o in stack.outcomes()] == ["REMEDIATED_VERIFIED"] * 3
    # AND the others did meet the claim: their key step was retried on TransientError, not raced
    waits = [e["lambdaFunctionFailedEventDetails"] for x in executions for e in stack.history(x["executionArn"])
             if e["type"] == "LambdaFunctionFailed"]
    assert waits and all(w["error"] == "TransientError" and "creating the key behind" in w["cause"] for w in waits)


def test_a_key_made_beside_the_claim_loses_to_the_alias_and_is_scheduled_for_deletion(account, estate, fast_stack) -> None:
    # GIVEN two knowledge bases of one key group, and a key-scope claim that expires at once (as if its holder
    # died mid-create), so both workflows create a key
    stack = fast_stack(KeyStrategy="per-tag")
    account.faults.add("kms", "CreateAlias", Fault.LATENCY, seconds=3, principal=stack.role_arns["KeyFunctionRole"])
    with _claims_expiring_at_once():
        sources = _one_key_group(estate, ("alpha", "beta"))
        stack.wait_all()
    # THEN both data sources end on the one key behind the alias, and the losing key is scheduled for deletion
    used = _keys_used(account, sources)
    assert len(used) == 1
    (winner,) = used
    created = _managed_keys(account)
    assert len(created) == 2, "both workflows created a key: the race happened"
    states = {m["Arn"]: m["KeyState"] for m in created}
    assert states.pop(winner) == "Enabled"
    assert list(states.values()) == ["PendingDeletion"], "no orphan key is left enabled"
    assert [o["outcome"] for o in stack.outcomes()] == ["REMEDIATED_VERIFIED"] * 2


@contextmanager
def _claims_expiring_at_once():
    import cmk_guard.steps.key as key_step

    saved = key_step.SCOPE_CLAIM_TTL_SECONDS
    key_step.SCOPE_CLAIM_TTL_SECONDS = -1
    try:
        yield
    finally:
        key_step.SCOPE_CLAIM_TTL_SECONDS = saved
