"""The emulated Lambda honours reserved concurrency the way Lambda does, and Step Functions names the refusal."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from botocore.config import Config

from cmk_guard_local import lambda_runtime
from cmk_guard_local.stack import cap_retry_delays

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


@pytest.fixture
def slow_function(account):
    release, running = threading.Event(), threading.Event()

    def handler(event, context):
        running.set()
        release.wait(10)
        return {"ok": True}

    function = lambda_runtime.LocalFunction(
        name="gate", arn=ARN.format("gate"), handler="unused.handler", role_arn="arn:aws:iam::123456789012:role/gate",
        reserved_concurrency=1, _callable=handler,
    )
    lambda_runtime.register(function)
    yield function, release, running
    release.set()
    lambda_runtime.clear()


def test_an_invocation_beyond_reserved_concurrency_gets_too_many_requests(slow_function) -> None:
    function, release, running = slow_function
    client = boto3.client("lambda", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
    first = threading.Thread(target=lambda: client.invoke(FunctionName="gate", Payload=b"{}"))
    first.start()
    assert running.wait(5)
    with pytest.raises(client.exceptions.TooManyRequestsException) as refused:
        client.invoke(FunctionName="gate", Payload=b"{}")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert refused.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    release.set()
    first.join(5)
    assert json.load(client.invoke(FunctionName="gate", Payload=b"{}")["Payload"]) == {"ok": True}
    assert (function.invocations, function.throttles, function.peak_running, function.running) == (2, 1, 1, 0)


def test_step_functions_names_the_refusal_and_the_retry_absorbs_it(account, slow_function) -> None:
    # GIVEN a task on a function that is busy, with the Retry cmk-guard gives ConfirmKeyUse
    function, release, running = slow_function
    busy = threading.Thread(target=lambda: boto3.client("lambda").invoke(FunctionName="gate", Payload=b"{}"))
    busy.start()
    assert running.wait(5)
    definition = json.dumps({
        "StartAt": "Call",
        "States": {"Call": {
            "Type": "Task", "Resource": ARN.format("gate"), "End": True,
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 5, "MaxAttempts": 40,
                       "BackoffRate": 1.5, "MaxDelaySeconds": 300, "JitterStrategy": "FULL"}],
        }},
    })
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="gate", definition=cap_retry_delays(definition, 1), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="one", input="{}")["executionArn"]
    # WHEN the function frees up after the first refusals
    threading.Timer(1.5, release.set).start()
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        threading.Event().wait(0.05)
    # THEN the execution succeeded after being refused as Lambda.TooManyRequestsException
    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    failures = [e["lambdaFunctionFailedEventDetails"]["error"] for e in sfn.get_execution_history(executionArn=execution)["events"]
                if e["type"] == "LambdaFunctionFailed"]
    assert failures and set(failures) == {"Lambda.TooManyRequestsException"}
    assert function.throttles == len(failures)
    busy.join(5)


def test_cap_retry_delays_shortens_waits_only() -> None:
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "x", "End": True, "Retry": [
        {"ErrorEquals": ["E"], "IntervalSeconds": 5, "MaxAttempts": 40, "BackoffRate": 1.5, "MaxDelaySeconds": 300, "JitterStrategy": "FULL"},
        {"ErrorEquals": ["F"], "IntervalSeconds": 2, "MaxAttempts": 3},
    ]}}})
    retriers = json.loads(cap_retry_delays(definition, 1))["States"]["A"]["Retry"]
    assert retriers == [
        {"ErrorEquals": ["E"], "IntervalSeconds": 1, "MaxAttempts": 40, "BackoffRate": 1.5, "MaxDelaySeconds": 1, "JitterStrategy": "FULL"},
        {"ErrorEquals": ["F"], "IntervalSeconds": 1, "MaxAttempts": 3, "MaxDelaySeconds": 1},
    ]
