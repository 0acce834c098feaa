"""Retries in both state machines: a task on a function with reserved concurrency waits out a burst's queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cmk_guard_local.template import state_machine

from .conftest import ROOT

THROTTLED = "Lambda.TooManyRequestsException"
# A burst of 1,000 data sources queues on a function with reserved concurrency 5 for minutes, not seconds.
MIN_PATIENCE_SECONDS = 300


def _tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        for branch in state.get("Branches", []):
            found.update(_tasks(branch["States"]))
        if state["Type"] == "Map":
            found.update(_tasks(state["ItemProcessor"]["States"]))
    return found


def _patience(retrier: dict[str, Any]) -> float:
    """The longest total wait the retrier allows, before jitter (Step Functions' defaults where unset)."""
    interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    return sum(min(interval * rate**attempt, cap) for attempt in range(retrier.get("MaxAttempts", 3)))


def _reserved_functions(template: dict[str, Any]) -> set[str]:
    return {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and "ReservedConcurrentExecutions" in (resource.get("Properties") or {})
    }


@pytest.mark.parametrize("machine", ["RemediateStateMachine", "SweepStateMachine"])
def test_tasks_on_reserved_functions_wait_out_a_queue(template: dict[str, Any], machine: str) -> None:
    # GIVEN each task whose function has reserved concurrency (so a burst is refused with TooManyRequests)
    spec = state_machine(template, machine)
    definition = json.loads((ROOT / spec["definition_uri"]).read_text())
    function_of = {f"${{{name}}}": value["Fn::GetAtt"][0] for name, value in spec["substitutions"].items()
                   if isinstance(value, dict) and "Fn::GetAtt" in value}
    reserved = _reserved_functions(template)
    tasks = {n: t for n, t in _tasks(definition["States"]).items() if function_of.get(t.get("Resource")) in reserved}
    if machine == "RemediateStateMachine":
        assert {"ProvisionKey", "RepairKeyPolicy", "ConfirmKeyUse"} <= set(tasks)
    for name, task in tasks.items():
        # THEN the first retrier that matches a throttled invocation allows minutes of waiting, with jitter
        first = next((r for r in task.get("Retry", []) if THROTTLED in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"]), None)
        assert first is not None, f"{name} does not retry {THROTTLED}"
        assert _patience(first) >= MIN_PATIENCE_SECONDS, f"{name} gives up on a queue after {_patience(first):.0f} s"
        assert first.get("JitterStrategy") == "FULL", name
