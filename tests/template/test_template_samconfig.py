"""samconfig.toml: the deploy settings and parameter overrides agree with template.yaml."""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

import pytest

from cmk_guard_local.template import conditions, parameters

from .conftest import ROOT
from .test_template_contract import _allowed


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def overrides(samconfig: dict[str, Any], environment: str) -> dict[str, str]:
    text = samconfig[environment]["deploy"]["parameters"]["parameter_overrides"]
    pairs = [item.split("=", 1) for item in shlex.split(text)]
    assert all(len(pair) == 2 for pair in pairs), text
    return dict(pairs)  # type: ignore[arg-type]


def test_version_and_stack(samconfig: dict[str, Any]) -> None:
    assert samconfig["version"] == 0.1
    assert samconfig["default"]["global"]["parameters"]["stack_name"] == "cmk-guard"
    assert samconfig["prod"]["global"]["parameters"]["stack_name"] == "cmk-guard"


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_deploy_settings(samconfig: dict[str, Any], environment: str) -> None:
    deploy = samconfig[environment]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_overrides_name_real_parameters_with_allowed_values(
    samconfig: dict[str, Any], template: dict[str, Any], environment: str
) -> None:
    values = overrides(samconfig, environment)
    assert values, "no parameter_overrides"
    for name, value in values.items():
        assert name in template["Parameters"], f"[{environment}] {name} is not a template parameter"
        assert _allowed(template["Parameters"][name], value), f"[{environment}] {name}={value!r} is not allowed"


def test_first_deployment_only_reports_and_prod_remediates(samconfig: dict[str, Any]) -> None:
    default, prod = overrides(samconfig, "default"), overrides(samconfig, "prod")
    assert default["Mode"] == "notify"
    assert prod["Mode"] == "auto"
    assert int(prod["LogRetentionDays"]) > int(default.get("LogRetentionDays", "90"))
    assert re.fullmatch(r"[^@\s]+@[^@\s]+", prod["OpsEmail"])


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_overrides_satisfy_the_template_rules(
    samconfig: dict[str, Any], template: dict[str, Any], environment: str
) -> None:
    # CloudFormation's Rules (for example OrganizationId needs MemberExternalId) hold for each environment.
    values = {**parameters(template), **overrides(samconfig, environment)}
    for name, rule in template["Rules"].items():
        checks = {"applies": rule.get("RuleCondition", {"Fn::Equals": ["a", "a"]})}
        checks.update({f"assert{i}": a["Assert"] for i, a in enumerate(rule["Assertions"])})
        result = conditions({"Conditions": checks}, values)
        if result["applies"]:
            assert all(v for k, v in result.items() if k.startswith("assert")), f"[{environment}] breaks rule {name}"


def test_the_rules_are_evaluated(template: dict[str, Any]) -> None:
    rule = template["Rules"]["OrganizationNeedsExternalId"]
    values = {**parameters(template), "OrganizationId": "o-a1b2c3d4e5"}
    result = conditions({"Conditions": {"applies": rule["RuleCondition"], "ok": rule["Assertions"][0]["Assert"]}}, values)
    assert result == {"applies": True, "ok": False}
