"""Shared fixtures: an emulated AWS account, cmk-guard deployed on it from template.yaml, and an estate builder."""

from __future__ import annotations

import os

# The emulation and the in-process Lambda runtime hook into botocore before any client exists.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
)

from collections.abc import Callable, Iterator  # noqa: E402

import botocore.endpoint  # noqa: E402
import pytest  # noqa: E402

from cmk_guard_local import lambda_runtime  # noqa: E402,F401
from cmk_guard_local.emulator import EmulatedAccount  # noqa: E402
from cmk_guard_local.scenario import Estate  # noqa: E402
from cmk_guard_local.stack import EmulatedStack  # noqa: E402

REGION = "us-east-1"


@pytest.fixture
def account() -> Iterator[EmulatedAccount]:
    with EmulatedAccount(region=REGION) as emulated:
        yield emulated


@pytest.fixture
def estate(account: EmulatedAccount) -> Estate:
    return Estate(region=account.region, account_id=account.account_id)


@pytest.fixture
def make_stack(account: EmulatedAccount) -> Iterator[Callable[..., EmulatedStack]]:
    """Deploy cmk-guard with parameter overrides (names as in template.yaml), optional environment overrides and an
    optional cap on the state machine's retry waits."""
    stacks: list[EmulatedStack] = []
    saved = dict(os.environ)

    def deploy(
        env: dict[str, str] | None = None,
        auto_deliver: bool = True,
        retry_delay_cap_seconds: int | None = None,
        **parameters: str,
    ) -> EmulatedStack:
        stack = EmulatedStack(account, parameter_overrides=parameters, auto_deliver=auto_deliver,
                              retry_delay_cap_seconds=retry_delay_cap_seconds)
        if env:
            stack.environment_overrides.update(env)
        stacks.append(stack.deploy())
        return stack

    yield deploy
    for stack in stacks:
        stack.close()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def stack(make_stack: Callable[..., EmulatedStack]) -> EmulatedStack:
    return make_stack()


class _NoSleep:
    """Stands in for the ``time`` module in botocore.endpoint: records retry back-off instead of sleeping."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> _NoSleep:
    """botocore's retries without their back-off sleeps (the sleeps are recorded)."""
    fake = _NoSleep()
    monkeypatch.setattr(botocore.endpoint, "time", fake)
    return fake
