"""The preventive hook in template.yaml: off by default, resources only when on, least privilege, the right shape."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cmk_guard_local.template import conditions, resolve

from .conftest import ACCOUNT_ID, REGION
from .test_template_contract import fake_refs
from .test_template_iam import role_statements

HOOK_RESOURCES = {
    "HookFunctionLogGroup": "AWS::Logs::LogGroup",
    "HookFunctionRole": "AWS::IAM::Role",
    "HookFunction": "AWS::Serverless::Function",
    "HookExecutionRole": "AWS::IAM::Role",
    "PreventiveHook": "AWS::CloudFormation::LambdaHook",
}
# The AWS::CloudFormation::LambdaHook registry schema's Alias pattern (cfn-lint 1.58.0), without the look-ahead.
ALIAS = re.compile(r"^[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}$")


def _conditions(template: dict[str, Any], value: str) -> dict[str, bool]:
    return conditions(template, fake_refs(template, EnablePreventiveHook=value))


def test_the_hook_is_off_by_default_with_a_warn_and_a_fail_mode(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["EnablePreventiveHook"]
    assert parameter["Default"] == "off"
    assert parameter["AllowedValues"] == ["off", "warn", "fail"]


@pytest.mark.parametrize(
    ("value", "enabled", "fails"), [("off", False, False), ("warn", True, False), ("fail", True, True)]
)
def test_conditions_follow_the_parameter(template: dict[str, Any], value: str, enabled: bool, fails: bool) -> None:
    evaluated = _conditions(template, value)
    assert (evaluated["PreventiveHookEnabled"], evaluated["PreventiveHookFails"]) == (enabled, fails)


def test_every_hook_resource_and_output_exists_only_when_the_hook_is_on(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    hooked = {k for k, v in resources.items() if v.get("Condition") == "PreventiveHookEnabled"}
    assert hooked == set(HOOK_RESOURCES)
    assert {k: resources[k]["Type"] for k in hooked} == HOOK_RESOURCES
    assert template["Outputs"]["PreventiveHookArn"]["Condition"] == "PreventiveHookEnabled"
    # Nothing that always exists may point at a resource that exists only with the hook.
    for logical_id, resource in resources.items():
        if logical_id not in hooked:
            text = repr(resource)
            assert not any(f"'{name}'" in text or f"{name}." in text for name in hooked), logical_id


@pytest.mark.parametrize(("value", "mode"), [("warn", "WARN"), ("fail", "FAIL")])
def test_the_failure_mode_follows_the_parameter(template: dict[str, Any], value: str, mode: str) -> None:
    refs = fake_refs(template, EnablePreventiveHook=value)
    refs["HookFunction.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:cmk-guard-hook"
    refs["HookExecutionRole.Arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/cmk-guard-HookExecutionRole"
    hook = resolve(template["Resources"]["PreventiveHook"]["Properties"], refs, _conditions(template, value))
    assert hook["FailureMode"] == mode
    assert hook["HookStatus"] == "ENABLED"
    assert hook["TargetOperations"] == ["RESOURCE"]
    assert hook["TargetFilters"] == {
        "Actions": ["CREATE", "UPDATE"],
        "InvocationPoints": ["PRE_PROVISION"],
        "TargetNames": ["AWS::Bedrock::DataSource"],
    }
    assert hook["LambdaFunction"] == refs["HookFunction.Arn"]
    assert hook["ExecutionRole"] == refs["HookExecutionRole.Arn"]
    assert ALIAS.fullmatch(hook["Alias"]) and not hook["Alias"].lower().startswith("aws")


def test_the_hook_function_answers_within_cloudformations_wait(template: dict[str, Any]) -> None:
    function = template["Resources"]["HookFunction"]["Properties"]
    assert function["Handler"] == "cmk_guard.handlers.hook.lambda_handler"
    assert function["Timeout"] < 30  # CloudFormation waits up to 30 seconds for a Lambda hook


def test_the_execution_role_lets_hooks_invoke_exactly_the_hook_function(template: dict[str, Any]) -> None:
    properties = template["Resources"]["HookExecutionRole"]["Properties"]
    (trust,) = properties["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "hooks.cloudformation.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    assert not properties.get("ManagedPolicyArns")
    (statement,) = role_statements(template, "HookExecutionRole")
    assert statement["Action"] == ["lambda:InvokeFunction"]
    # The resource is built from the function's name; resolved, it is the ARN the function is deployed with.
    refs = fake_refs(template)
    name = resolve(template["Resources"]["HookFunction"]["Properties"]["FunctionName"], refs)
    assert resolve(statement["Resource"], refs) == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def test_the_hook_function_role_only_logs_traces_and_reads_knowledge_bases(template: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in role_statements(template, "HookFunctionRole")}
    assert set(statements) == {"OwnLogGroup", "XRay", "ReadKnowledgeBaseExemption"}
    read = statements["ReadKnowledgeBaseExemption"]
    assert read["Action"] == ["bedrock:GetKnowledgeBase", "bedrock:ListTagsForResource"]
    assert resolve(read["Resource"], fake_refs(template)) == f"arn:aws:bedrock:*:{ACCOUNT_ID}:knowledge-base/*"


def test_the_state_machine_never_calls_the_hook(template: dict[str, Any]) -> None:
    machine = template["Resources"]["RemediateStateMachine"]["Properties"]
    assert "HookFunction" not in repr(machine["DefinitionSubstitutions"]) + repr(machine["Policies"])


def test_the_hooks_reads_fit_in_the_function_timeout(template: dict[str, Any]) -> None:
    # Two reads before a refusal (GetKnowledgeBase, ListTagsForResource); standard-mode back-off before the one
    # retry is at most 1 second.
    from cmk_guard.adapters.aws import HOOK_SDK_CONFIG

    attempts = HOOK_SDK_CONFIG.retries["total_max_attempts"]
    per_attempt = HOOK_SDK_CONFIG.connect_timeout + HOOK_SDK_CONFIG.read_timeout
    worst = 2 * (attempts * per_attempt + (attempts - 1) * 1)
    assert worst < template["Resources"]["HookFunction"]["Properties"]["Timeout"] < 30
