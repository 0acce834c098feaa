"""A user's ingestion job is running when cmk-guard wants to start its own: cmk-guard waits for it, never fails at
once with the new key applied and unconfirmed."""

from __future__ import annotations

import threading

import boto3

from cmk_guard_local.emulator import Fault, acting_as

from .scenario import workflow_calls

USER = "arn:aws:iam::123456789012:user/alice"
UPDATE = ("ApplyFunctionRole", "bedrock-agent", "UpdateDataSource")  # slowed by an injected latency, still served


def _busy_data_source(account, estate, stack) -> tuple[str, str, str]:
    """A data source without a key whose owner starts an ingestion job before cmk-guard's update lands."""
    account.bedrock.reject_concurrent_ingestion = True
    # cmk-guard's update waits a second, so the owner's job is surely running before cmk-guard starts its own
    account.faults.add("bedrock-agent", "UpdateDataSource", Fault.LATENCY, seconds=1,
                       principal=stack.role_arns["ApplyFunctionRole"])
    kb = estate.knowledge_base("handbook", estate.kb_role())["knowledgeBaseId"]
    ds = estate.data_source(kb, "policies")["dataSourceId"]
    with acting_as(USER):
        job = boto3.client("bedrock-agent", region_name=account.region).start_ingestion_job(
            knowledgeBaseId=kb, dataSourceId=ds)["ingestionJob"]["ingestionJobId"]
    return kb, ds, job


def _busy_waits(stack, execution_arn: str) -> list[dict]:
    return [e["lambdaFunctionFailedEventDetails"] for e in stack.history(execution_arn)
            if e["type"] == "LambdaFunctionFailed" and e["lambdaFunctionFailedEventDetails"]["error"] == "IngestionBusyError"]


def test_cmk_guard_waits_for_a_running_ingestion_job_then_verifies(account, estate, fast_stack) -> None:
    # GIVEN a data source without a key whose owner's ingestion job is running, and ends a few seconds later
    stack = fast_stack()
    account.bedrock.ingestion_polls_to_finish = 1
    kb, ds, job = _busy_data_source(account, estate, stack)
    agent = boto3.client("bedrock-agent", region_name=account.region)

    def finish_the_owners_job() -> None:
        with acting_as(USER):
            agent.get_ingestion_job(knowledgeBaseId=kb, dataSourceId=ds, ingestionJobId=job)

    timer = threading.Timer(4.0, finish_the_owners_job)
    timer.start()
    try:
        (execution,) = stack.wait_all(120)
    finally:
        timer.join()
    # THEN cmk-guard waited (its start was refused as busy at least once), then ran its own job and verified the key
    assert execution["status"] == "SUCCEEDED"
    assert _busy_waits(stack, execution["executionArn"]), "the owner's job was running when cmk-guard started"
    assert [o["outcome"] for o in stack.outcomes()] == ["REMEDIATED_VERIFIED"]
    jobs = agent.list_ingestion_jobs(knowledgeBaseId=kb, dataSourceId=ds)["ingestionJobSummaries"]
    assert len(jobs) == 2 and {j["status"] for j in jobs} == {"COMPLETE"}
    assert workflow_calls(account, stack)[UPDATE] == 1


def test_a_job_that_never_ends_fails_the_workflow_naming_the_busy_data_source(account, estate, fast_stack) -> None:
    # GIVEN a data source whose owner's ingestion job never ends
    stack = fast_stack()
    kb, ds, _ = _busy_data_source(account, estate, stack)
    # WHEN cmk-guard has waited as long as its retries allow
    (execution,) = stack.wait_all(120)
    # THEN the workflow ends FAILED, saying why, after trying each time the retrier allowed (ten retries)
    assert execution["status"] == "FAILED"
    (outcome,) = stack.outcomes()
    assert outcome["outcome"] == "FAILED"
    assert "IngestionBusyError" in outcome["reason"] and "already running" in outcome["reason"], outcome["reason"]
    assert len(_busy_waits(stack, execution["executionArn"])) == 11
    # AND the new key stays applied (the update happened once); nothing was rolled back behind the owner's back
    assert workflow_calls(account, stack)[UPDATE] == 1
    after = boto3.client("bedrock-agent", region_name=account.region).get_data_source(knowledgeBaseId=kb, dataSourceId=ds)
    assert after["dataSource"]["serverSideEncryptionConfiguration"]["kmsKeyArn"] == outcome["key"]["keyArn"]
