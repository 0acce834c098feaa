"""The sweep in template.yaml and statemachine/sweep.asl.json: schedule, functions, least privilege, bounded work."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cmk_guard_local.template import functions, resolve, state_machine

from .conftest import ROOT
from .test_template_contract import fake_refs
from .test_template_iam import role_statements

SWEEP_STEPS = {"SweepListFunction", "SweepEvaluateFunction", "SweepStartFunction", "SweepReportFunction"}


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    return json.loads((ROOT / state_machine(template, "SweepStateMachine")["definition_uri"]).read_text())


def _tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        if state["Type"] == "Map":
            found.update(_tasks(state["ItemProcessor"]["States"]))
    return found


def test_schedule_runs_the_sweep_state_machine(transformed: dict[str, Any]) -> None:
    rules = {k: r for k, r in transformed["Resources"].items() if r["Type"] == "AWS::Events::Rule"}
    (rule,) = [r["Properties"] for r in rules.values() if r["Properties"]["Targets"][0]["Arn"] == {"Ref": "SweepStateMachine"}]
    assert rule["ScheduleExpression"] == {"Ref": "SweepSchedule"}
    assert rule["State"] == "ENABLED"
    assert "Input" not in rule["Targets"][0], "the sweep starts from the scheduled event, whatever it holds"


def test_sweep_state_machine_is_standard_traced_and_logs_errors_without_data(transformed: dict[str, Any]) -> None:
    properties = transformed["Resources"]["SweepStateMachine"]["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["StateMachineName"] == {"Fn::Sub": "${AWS::StackName}-sweep"}
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ERROR", False)
    assert logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {"Fn::GetAtt": ["SweepStateMachineLogGroup", "Arn"]}


def test_sweep_state_machine_role_invokes_its_four_functions_and_starts_only_its_own_children(
    template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    role = transformed["Resources"]["SweepStateMachineRole"]["Properties"]
    invoked, states_statements = set(), []
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "lambda:InvokeFunction" in actions:
                invoked.add(statement["Resource"]["Fn::Sub"][1]["functionName"]["Ref"])
            if any(a.startswith("states:") for a in actions):
                states_statements.append(statement)
    assert invoked == SWEEP_STEPS
    refs = fake_refs(template)
    name = resolve(template["Resources"]["SweepStateMachine"]["Properties"]["Name"], refs)
    scoped = {tuple(s["Action"]): resolve(s["Resource"], refs) for s in states_statements}
    assert scoped == {
        ("states:StartExecution",): f"arn:aws:states:{refs['AWS::Region']}:{refs['AWS::AccountId']}:stateMachine:{name}",
        ("states:DescribeExecution", "states:StopExecution"): (
            f"arn:aws:states:{refs['AWS::Region']}:{refs['AWS::AccountId']}:execution:{name}/*:*"  # child executions: <machine>/<map run>:<name>
        ),
    }


def test_only_the_start_step_may_start_the_remediate_workflow(template: dict[str, Any]) -> None:
    starters = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in role_statements(template, logical_id):
            if "states:StartExecution" in statement["Action"]:
                starters[logical_id] = statement["Resource"]
    # Among the functions only the sweep's start step; besides it, the organization bus's rule (EventBridge).
    assert starters == {
        "SweepStartFunctionRole": {"Ref": "RemediateStateMachine"},
        "OrganizationRuleRole": {"Ref": "RemediateStateMachine"},
    }


def test_sweep_functions_are_bounded(template: dict[str, Any]) -> None:
    views = functions(template)
    assert {k for k in views if k.startswith("Sweep")} == SWEEP_STEPS
    for logical_id in SWEEP_STEPS:
        assert views[logical_id]["handler"] == f"cmk_guard.handlers.{_module(logical_id)}.lambda_handler"
        assert views[logical_id]["role"] == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
    from cmk_guard.core.sweep import STOP_MARGIN_MILLIS

    timeout = views["SweepEvaluateFunction"]["timeout"]
    assert timeout * 1000 - STOP_MARGIN_MILLIS >= 60_000, "a useful working budget is left"
    worst_throttled_call = sum(min(2**attempt, 20) for attempt in range(5))  # six attempts, five jittered backoffs
    assert STOP_MARGIN_MILLIS >= 2 * worst_throttled_call * 1000, "one data source's two reads fit in the margin"
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert (variables["SWEEP_KNOWLEDGE_BASE_PAGE_SIZE"], variables["SWEEP_DATA_SOURCE_PAGE_SIZE"]) == ("50", "25")


def _module(logical_id: str) -> str:
    return {"SweepListFunction": "sweep_list", "SweepEvaluateFunction": "sweep_evaluate",
            "SweepStartFunction": "sweep_start", "SweepReportFunction": "sweep_report"}[logical_id]


def test_every_sweep_task_retries_with_backoff_and_jitter(definition: dict[str, Any]) -> None:
    tasks = _tasks(definition["States"])
    assert set(tasks) == {"ListKnowledgeBases", "EvaluateDataSources", "StartRemediations", "Report"}
    for name, task in tasks.items():
        errors = {e for retrier in task["Retry"] for e in retrier["ErrorEquals"]}
        assert {"TransientError", "Lambda.TooManyRequestsException", "Lambda.ServiceException"} <= errors, name
        for retrier in task["Retry"]:
            assert retrier["BackoffRate"] > 1 and retrier["JitterStrategy"] == "FULL" and retrier["MaxAttempts"] >= 3, name
        assert task["TimeoutSeconds"] <= 300, name


def test_the_map_is_distributed_bounded_and_never_fails_the_sweep(definition: dict[str, Any]) -> None:
    (map_state,) = [s for s in definition["States"].values() if s["Type"] == "Map"]
    assert map_state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert map_state["MaxConcurrency"] == 10
    inner = map_state["ItemProcessor"]["States"]
    for name, state in _tasks(inner).items():
        assert [c["ErrorEquals"] for c in state["Catch"]] == [["States.ALL"]], name
    assert inner["StartRemediations"]["Parameters"]["stateMachineArn"] == "${RemediateStateMachineArn}"
