"""Fixtures for the reliability suite: cmk-guard on the emulated account with short waits.

``fast_stack`` caps the state machine's Retry waits at 1 s (``EmulatedStack.retry_delay_cap_seconds``: which errors
are retried and how many times stay as written) and lets an ingestion job finish on its first poll.
``quick_sdk_backoff`` shortens botocore's backoff between attempts; the number of attempts is unchanged.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator

import pytest
from botocore.retries import standard

from cmk_guard_local.emulator import EmulatedAccount
from cmk_guard_local.stack import EmulatedStack


@pytest.fixture
def fast_stack(account: EmulatedAccount, make_stack: Callable[..., EmulatedStack]) -> Callable[..., EmulatedStack]:
    """``make_stack`` with the state machine's retry waits capped at 1 s and ingestion jobs done on their first poll."""
    account.bedrock.ingestion_polls_to_finish = 1
    return functools.partial(make_stack, retry_delay_cap_seconds=1)


@pytest.fixture
def quick_sdk_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.01)


@pytest.fixture
def manual_stack(account: EmulatedAccount) -> Iterator[EmulatedStack]:
    """cmk-guard that starts only what the test delivers (``stack.deliver(record)``)."""
    saved = dict(os.environ)
    account.bedrock.ingestion_polls_to_finish = 1
    stack = EmulatedStack(account, auto_deliver=False, retry_delay_cap_seconds=1).deploy()
    yield stack
    stack.close()
    os.environ.clear()
    os.environ.update(saved)
