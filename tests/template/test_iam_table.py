"""The README's IAM table lists exactly the actions of every role cmk-guard deploys, and the managed policies."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from cmk_guard_local.template import load_template

from .conftest import ROOT
from .test_template_iam import LAMBDA_ROLES, _branches, _listify

ACTION = re.compile(r"`([a-z0-9-]+:[A-Za-z]+)`")
LOGICAL_ID = re.compile(r"`([A-Za-z0-9]+)`")
MANAGED = re.compile(r"`(AWS[A-Za-z]+)`")
Role = tuple[str, str]  # (template file, logical id)


def _readme_rows() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## IAM footprint", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("role", "---"):
            rows.append((cells[0], cells[1]))
    return rows


def _roles_of(cell: str) -> list[Role]:
    if cell.startswith("every function role"):
        return [("template.yaml", role) for role in LAMBDA_ROLES]
    source = "member.yaml" if cell.startswith("member.yaml") else "template.yaml"
    match = LOGICAL_ID.search(cell)
    assert match, f"README IAM row without a role: {cell!r}"
    return [(source, match.group(1))]


def readme_table() -> tuple[dict[Role, set[str]], dict[Role, set[str]]]:
    actions: dict[Role, set[str]] = defaultdict(set)
    managed: dict[Role, set[str]] = defaultdict(set)
    for role_cell, action_cell in _readme_rows():
        for role in _roles_of(role_cell):
            actions[role] |= set(ACTION.findall(action_cell))
            managed[role] |= set(MANAGED.findall(action_cell))
    return actions, managed


def deployed(transformed: dict[str, Any]) -> tuple[dict[Role, set[str]], dict[Role, set[str]]]:
    """Every role's allowed actions (all Fn::If branches) and managed policy names, in both templates."""
    actions: dict[Role, set[str]] = defaultdict(set)
    managed: dict[Role, set[str]] = defaultdict(set)
    member = load_template(ROOT / "member.yaml")
    for source, document in (("template.yaml", transformed), ("member.yaml", member)):
        for logical_id, resource in document["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            properties = resource["Properties"]
            for policy in properties.get("Policies", []):
                for item in policy["PolicyDocument"]["Statement"]:
                    for statement in _branches(item):
                        if statement["Effect"] == "Allow":
                            actions[(source, logical_id)] |= set(_listify(statement["Action"]))
            for arn in properties.get("ManagedPolicyArns", []):
                managed[(source, logical_id)].add(str(arn).rsplit("/", 1)[-1])
    return actions, managed


def test_the_table_has_rows_for_both_templates() -> None:
    actions, _ = readme_table()
    assert {source for source, _ in actions} == {"template.yaml", "member.yaml"}
    assert len(actions) >= 15


def test_every_deployed_action_is_in_the_table_and_every_listed_action_is_deployed(transformed: dict[str, Any]) -> None:
    listed, _ = readme_table()
    actual, _ = deployed(transformed)
    assert set(listed) == set(actual), (
        f"roles missing from the README: {sorted(set(actual) - set(listed))}; "
        f"README roles that do not exist: {sorted(set(listed) - set(actual))}"
    )
    for role in sorted(actual):
        assert listed[role] == actual[role], (
            f"{role}: not in the README {sorted(actual[role] - listed[role])}, "
            f"in the README but not deployed {sorted(listed[role] - actual[role])}"
        )


def test_managed_policies_are_named_in_the_table(transformed: dict[str, Any]) -> None:
    _, listed = readme_table()
    _, actual = deployed(transformed)
    assert {role: names for role, names in actual.items() if names} == {r: n for r, n in listed.items() if n}


@pytest.mark.parametrize("missing", ["sts:AssumeRole", "kms:CreateAlias"])
def test_the_comparison_notices_a_missing_row(transformed: dict[str, Any], missing: str) -> None:
    listed, _ = readme_table()
    actual, _ = deployed(transformed)
    role = ("template.yaml", "KeyFunctionRole")
    assert missing in listed[role] and missing in actual[role]
    assert listed[role] - {missing} != actual[role]
