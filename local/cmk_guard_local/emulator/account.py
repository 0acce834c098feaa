"""``EmulatedAccount``: moto plus the emulated services, faults and call log, as one context manager."""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any, NamedTuple

from . import hooks
from .bedrock_agent import BedrockAgentEmulator
from .cloudtrail import CloudTrailEmulator
from .faults import Fault, FaultInjector

MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


class Call(NamedTuple):
    """One API call attempt as the emulator saw it."""

    service: str
    operation: str
    principal: str
    fault: Fault | None


class EmulatedAccount:
    """An AWS account emulated in-process: moto ``mock_aws`` plus bedrock-agent, CloudTrail event history,
    fault injection and a call log. Use as a context manager; only one can be active at a time.

    On exit moto and the emulated services are reset and faults cleared; ``calls`` and ``cloudtrail.events``
    stay readable until the next ``__enter__``.
    """

    def __init__(self, region: str = "us-east-1", account_id: str = "123456789012") -> None:
        self.region = region
        self.account_id = account_id
        self.cloudtrail = CloudTrailEmulator()
        self.bedrock = BedrockAgentEmulator(
            lambda account, reg, record: self.cloudtrail.record(record, account=account, region=reg),
            account_id, region)
        self.faults = FaultInjector()
        # Every emulated account belongs to this organization (aws:PrincipalOrgID in trust policies); None: none.
        self.organization_id: str | None = None
        self._calls: list[Call] = []
        self._calls_lock = threading.Lock()
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}

    def __enter__(self) -> EmulatedAccount:
        from moto import mock_aws

        hooks.install()
        hooks.refresh_default_session()
        self.reset()
        self._set_env("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION") or self.region)
        if self.account_id != "123456789012":  # moto's default account
            self._set_env("MOTO_ACCOUNT_ID", self.account_id)
        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[arg-type]
        self._mock.start()
        try:
            hooks.activate(self)
        except BaseException:
            self._mock.stop()
            self._restore_env()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        hooks.deactivate(self)
        try:
            if self._mock is not None:
                self._mock.stop()
        finally:
            self._mock = None
            self._restore_env()
            self.bedrock.reset()
            self.faults.clear()

    def reset(self) -> None:
        """Clear the emulated services, faults, CloudTrail history and call log (moto state is untouched)."""
        self.bedrock.reset()
        self.cloudtrail.reset()
        self.faults.clear()
        with self._calls_lock:
            self._calls.clear()

    @property
    def active(self) -> bool:
        return hooks.active_account() is self

    @property
    def calls(self) -> list[Call]:
        """Snapshot of every API call attempt, retries included: ``(service, operation, principal, fault)``."""
        with self._calls_lock:
            return list(self._calls)

    def call_counts(self) -> Counter[tuple[str, str]]:
        """Attempts per ``(service, operation)``."""
        return Counter((c.service, c.operation) for c in self.calls)

    def _log_call(self, service: str, operation: str, principal: str, fault: Fault | None) -> None:
        with self._calls_lock:
            self._calls.append(Call(service, operation, principal, fault))

    def _set_env(self, name: str, value: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
