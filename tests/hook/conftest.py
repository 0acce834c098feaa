"""Fixtures for the hook tests."""

from __future__ import annotations

import botocore.endpoint
import pytest


class _NoSleep:
    """Stands in for the ``time`` module in botocore.endpoint: records retry back-off instead of sleeping."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> _NoSleep:
    fake = _NoSleep()
    monkeypatch.setattr(botocore.endpoint, "time", fake)
    return fake
