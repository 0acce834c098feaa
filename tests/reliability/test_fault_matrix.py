"""Every AWS call the workflow makes, under transient and permanent faults, through the real state machine.

The list of calls is pinned here and checked against a clean run's call log (cmk-guard's roles only), so a call
added to the workflow fails ``test_the_matrix_covers_every_call_of_a_clean_run`` until it is in the matrix.
"""

from __future__ import annotations

import time

import pytest

from cmk_guard_local.emulator import Fault

from .scenario import keys_created, start_reference_run, updates_by_cmk_guard, workflow_calls

CHECK, KEY, APPLY, INGEST, CONFIRM, RECORD = (
    "CheckFunctionRole", "KeyFunctionRole", "ApplyFunctionRole", "IngestFunctionRole", "ConfirmFunctionRole", "RecordFunctionRole",
)
# (role, service, operation) -> attempts in a clean run of the reference scenario.
MATRIX_CALLS = {
    (CHECK, "dynamodb", "PutItem"): 2,  # claim the event, take the lock
    (CHECK, "bedrock-agent", "GetKnowledgeBase"): 1,
    (CHECK, "bedrock-agent", "ListTagsForResource"): 1,
    (CHECK, "bedrock-agent", "GetDataSource"): 1,
    (CHECK, "kms", "DescribeKey"): 1,
    (KEY, "kms", "DescribeKey"): 2,  # the alias, and again once the key scope is claimed
    (KEY, "dynamodb", "PutItem"): 1,  # claim the key scope, so one workflow creates its key
    (KEY, "dynamodb", "DeleteItem"): 1,  # release the claim
    (KEY, "kms", "CreateKey"): 1,
    (KEY, "kms", "CreateAlias"): 1,
    (KEY, "kms", "EnableKeyRotation"): 1,
    (APPLY, "bedrock-agent", "GetDataSource"): 2,  # before and after the update
    (APPLY, "dynamodb", "PutItem"): 1,  # the previous configuration
    (APPLY, "bedrock-agent", "UpdateDataSource"): 1,
    (INGEST, "bedrock-agent", "StartIngestionJob"): 1,
    (INGEST, "bedrock-agent", "GetIngestionJob"): 1,
    (CONFIRM, "cloudtrail", "LookupEvents"): 1,
    (RECORD, "dynamodb", "PutItem"): 2,  # the outcome, then its notification id
    (RECORD, "sns", "Publish"): 1,
    (RECORD, "dynamodb", "DeleteItem"): 1,  # release the lock
}
CALLS = sorted(MATRIX_CALLS)
SDK_ATTEMPTS = 5  # adapters/aws.py: standard retry mode, max_attempts 5

# What a permanent fault on a call means when it is not the default (FAILED, with a reason naming the call).
NO_WRITE = "no write"  # the outcome may change as approval is built; nothing is written either way
RECORD_FAILED = "record failed"  # the state machine's last-resort notice, execution FAILED
DUPLICATE = "duplicate"  # the claim's own answer: another execution has this event
CLAIM_HELD = "claim held"  # another execution is creating the key: wait (retried), then FAILED if it never ends
INGESTION_BUSY = "ingestion busy"  # another job of the data source runs: wait (retried), then FAILED if it never ends
PERMANENT_EXPECTATIONS = {
    (CHECK, "bedrock-agent", "GetKnowledgeBase"): {Fault.ACCESS_DENIED: "UNKNOWN", Fault.NOT_FOUND: "SKIPPED"},
    (CHECK, "bedrock-agent", "GetDataSource"): {Fault.ACCESS_DENIED: "UNKNOWN", Fault.NOT_FOUND: "SKIPPED"},
    (CHECK, "kms", "DescribeKey"): {Fault.ACCESS_DENIED: "UNKNOWN", Fault.NOT_FOUND: "REMEDIATED_VERIFIED"},
    (CHECK, "bedrock-agent", "ListTagsForResource"): dict.fromkeys(Fault, NO_WRITE),
    (CHECK, "dynamodb", "PutItem"): {Fault.CONFLICT: DUPLICATE},  # ConditionalCheckFailedException
    (KEY, "kms", "DescribeKey"): {Fault.NOT_FOUND: "REMEDIATED_VERIFIED"},  # no key behind the alias: create one
    (KEY, "dynamodb", "PutItem"): {Fault.CONFLICT: CLAIM_HELD},
    (KEY, "dynamodb", "DeleteItem"): dict.fromkeys(Fault, "REMEDIATED_VERIFIED"),  # the claim expires on its own
    (INGEST, "bedrock-agent", "StartIngestionJob"): {Fault.CONFLICT: INGESTION_BUSY},
    (CONFIRM, "cloudtrail", "LookupEvents"): dict.fromkeys(Fault, "REMEDIATED_UNVERIFIED"),
    (RECORD, "dynamodb", "PutItem"): dict.fromkeys(Fault, RECORD_FAILED),
    (RECORD, "sns", "Publish"): dict.fromkeys(Fault, RECORD_FAILED),
    (RECORD, "dynamodb", "DeleteItem"): dict.fromkeys(Fault, "REMEDIATED_VERIFIED"),  # the lock expires on its own
}
PERMANENT = (Fault.ACCESS_DENIED, Fault.NOT_FOUND, Fault.CONFLICT)
# Calls whose failure, even a transient one, is given up after the SDK's attempts: the workflow goes on without them.
GIVEN_UP = {(KEY, "dynamodb", "DeleteItem")}
# Calls made before the data source is written: a failure there leaves it untouched.
BEFORE_THE_WRITE = {c for c in MATRIX_CALLS if c[0] in {CHECK, KEY}} | {
    (APPLY, "bedrock-agent", "GetDataSource"),
    (APPLY, "dynamodb", "PutItem"),
}


def _inject(account, stack, call, fault, times) -> None:
    role, service, operation = call
    account.faults.add(service, operation, fault, times=times, principal=stack.role_arns[role])


def test_the_matrix_covers_every_call_of_a_clean_run(account, estate, fast_stack) -> None:
    stack = fast_stack()
    start_reference_run(estate)
    stack.wait_all()
    assert [o["outcome"] for o in stack.outcomes()] == ["REMEDIATED_VERIFIED"]
    assert dict(workflow_calls(account, stack)) == MATRIX_CALLS


@pytest.mark.slow
@pytest.mark.parametrize("call", CALLS, ids=["/".join(c) for c in CALLS])
def test_transient_faults_end_in_the_same_single_outcome(account, estate, fast_stack, quick_sdk_backoff, call) -> None:
    # GIVEN a call that throttles three times, then fails with a 5xx twice: one SDK call's five attempts in all
    stack = fast_stack()
    role, service, operation = call
    account.faults.add(service, operation, Fault.THROTTLE, times=3, principal=stack.role_arns[role])
    account.faults.add(service, operation, Fault.SERVER_ERROR, times=2, principal=stack.role_arns[role])
    # WHEN a data source needs remediation
    run = start_reference_run(estate)
    executions = stack.wait_all()
    # THEN the state machine's retry finishes the job: one outcome, one update, one key, one notification
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    (outcome,) = stack.outcomes()
    assert outcome["outcome"] == "REMEDIATED_VERIFIED", outcome.get("reason")
    assert outcome["target"]["dataSourceId"] == run.ds_id
    assert updates_by_cmk_guard(account, stack) == 1
    assert keys_created(account, stack) == 1
    assert len(stack.notifications()) == 1
    # AND no retry storm: the faulted call saw its five failures and then at most its clean count again, twice
    calls = workflow_calls(account, stack)
    least = SDK_ATTEMPTS if call in GIVEN_UP else SDK_ATTEMPTS + MATRIX_CALLS[call]
    assert least <= calls[call] <= SDK_ATTEMPTS + 2 * MATRIX_CALLS[call]
    assert sum(calls.values()) <= 2 * sum(MATRIX_CALLS.values()) + SDK_ATTEMPTS


@pytest.mark.slow
@pytest.mark.parametrize("fault", PERMANENT, ids=[f.value for f in PERMANENT])
@pytest.mark.parametrize("call", CALLS, ids=["/".join(c) for c in CALLS])
def test_permanent_faults_end_in_a_clear_outcome_without_retries(account, estate, fast_stack, call, fault) -> None:
    # GIVEN a call that always fails with a permanent error
    stack = fast_stack()
    _inject(account, stack, call, fault, None)
    # WHEN a data source needs remediation
    start_reference_run(estate)
    expected = PERMANENT_EXPECTATIONS.get(call, {}).get(fault, "FAILED")
    if expected == NO_WRITE:
        # Unreadable tags fail closed to approval: the workflow waits for a person, having written nothing.
        (started,) = [d.execution_arn for d in stack.deliveries if d.execution_arn]
        assert _reaches(stack, started, "RequestApproval")
        assert updates_by_cmk_guard(account, stack) == 0 and keys_created(account, stack) == 0
        assert 1 <= workflow_calls(account, stack)[call] <= MATRIX_CALLS[call]
        return
    (execution,) = stack.wait_all()
    outcomes = stack.outcomes()
    notes = stack.notifications()
    # THEN the workflow ends once, the way this call's failure means
    if expected == DUPLICATE:
        assert execution["status"] == "SUCCEEDED" and outcomes == [] and notes == []
    elif expected == INGESTION_BUSY:
        (outcome,) = outcomes
        assert execution["status"] == "FAILED" and outcome["outcome"] == "FAILED" and len(notes) == 1
        assert "IngestionBusyError" in outcome["reason"], outcome["reason"]
        assert updates_by_cmk_guard(account, stack) == 1, "the key stays applied"
        assert workflow_calls(account, stack)[call] == 11  # ten retries of the start, each refused once
        return
    elif expected == CLAIM_HELD:
        (outcome,) = outcomes
        assert execution["status"] == "FAILED" and outcome["outcome"] == "FAILED" and len(notes) == 1
        assert "creating the key behind" in outcome["reason"], outcome["reason"]
        assert updates_by_cmk_guard(account, stack) == 0 and keys_created(account, stack) == 0
        # it waited: the state machine retried the key step (six retries), each time meeting the claim once
        assert workflow_calls(account, stack)[call] == 7
        return
    elif expected == RECORD_FAILED:
        assert execution["status"] == "FAILED"
        assert notes and notes[-1]["subject"] == "cmk-guard could not record an outcome"
        assert call[2] in notes[-1]["message"]
    else:
        (outcome,) = outcomes
        if expected == NO_WRITE:
            assert outcome["outcome"] not in {"REMEDIATED_VERIFIED", "REMEDIATED_UNVERIFIED"}
        else:
            assert outcome["outcome"] == expected, outcome.get("reason")
        assert len(notes) == 1
        if expected == "FAILED":
            assert execution["status"] == "FAILED"
            assert call[2] in outcome["reason"], outcome["reason"]
        if expected == "REMEDIATED_UNVERIFIED":
            assert call[2] in outcome["reason"], outcome["reason"]
    if expected == "FAILED" and call in BEFORE_THE_WRITE:
        assert updates_by_cmk_guard(account, stack) == 0
    if expected in {"UNKNOWN", "SKIPPED", NO_WRITE, DUPLICATE}:
        assert updates_by_cmk_guard(account, stack) == 0
        assert keys_created(account, stack) == 0
    # AND nothing was retried: the failing call was attempted once per time the workflow reached it
    calls = workflow_calls(account, stack)
    assert 1 <= calls[call] <= MATRIX_CALLS[call]
    assert sum(calls.values()) <= sum(MATRIX_CALLS.values())


def _reaches(stack, execution: str, state: str, timeout: float = 60) -> bool:
    """Whether the execution enters ``state`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in stack.history(execution)):
            return True
        time.sleep(0.1)
    return False
