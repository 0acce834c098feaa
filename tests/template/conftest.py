"""Shared fixtures for the template tests: the parsed template, its SAM transform and one cfn-lint run."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cmk_guard_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture
def fresh_template() -> dict[str, Any]:
    """A copy a test may change."""
    return load_template(TEMPLATE_PATH)


class _NoManagedPolicies:
    """The managed-policy loader the translator asks for AWS managed policy ARNs (offline: none)."""

    def load(self) -> dict[str, str]:
        return {}


def sam_transform(raw: dict[str, Any]) -> dict[str, Any]:
    """Transform with aws-sam-translator, local CodeUri/DefinitionUri rewritten to S3 as `sam package` does."""
    from samtranslator.translator.transform import transform

    document = copy.deepcopy(raw)
    globals_function = document.get("Globals", {}).get("Function", {})
    if isinstance(globals_function.get("CodeUri"), str) and not globals_function["CodeUri"].startswith("s3://"):
        globals_function["CodeUri"] = f"s3://cmk-guard-artifacts/{globals_function['CodeUri'].strip('/')}.zip"
    for resource in document["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "DefinitionUri"):
            value = properties.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                properties[key] = f"s3://cmk-guard-artifacts/{value}"
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    try:
        return transform(document, {}, _NoManagedPolicies())
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


@pytest.fixture(scope="session")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    return sam_transform(template)


@pytest.fixture(scope="session")
def cfn_lint_run() -> subprocess.CompletedProcess[str]:
    """One cfn-lint run per session, informational checks included (exit code: 2 errors, 4 warnings, 8 info)."""
    executable = Path(sys.executable).parent / "cfn-lint"
    return subprocess.run(
        [str(executable), "--include-checks", "I", "--", str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
