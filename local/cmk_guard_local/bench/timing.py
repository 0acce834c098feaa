"""When each emulated API call started and ended, so calls that ran concurrently can be counted as one round trip."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cmk_guard_local.emulator import hooks
from cmk_guard_local.emulator.account import EmulatedAccount


@dataclass
class TimedCall:
    """One call attempt as logged by the emulated account, with the interval it was in flight."""

    index: int  # position in ``acct.calls``
    service: str
    operation: str
    principal: str
    started: float
    ended: float = 0.0


@contextmanager
def timed_calls(acct: EmulatedAccount) -> Iterator[list[TimedCall]]:
    """Record a start and end time for every call the emulated account logs while the context is open.

    The start is taken where the account logs the attempt; the end when the emulation (or moto behind it)
    answers. Nothing about the calls changes.
    """
    timed: list[TimedCall] = []
    local = threading.local()
    lock = threading.Lock()
    original_log, original_serve, original_stubber = acct._log_call, hooks._serve, hooks._moto_stubber

    def log_call(service: str, operation: str, principal: str, fault: Any) -> None:
        with lock:
            original_log(service, operation, principal, fault)
            call = TimedCall(len(acct._calls) - 1, service, operation, principal, time.monotonic())
            timed.append(call)
        local.call = call

    def serve(*args: Any, **kwargs: Any) -> Any:
        local.call = None
        response = original_serve(*args, **kwargs)
        call = getattr(local, "call", None)
        if response is not None and call is not None:
            call.ended = time.monotonic()
            local.call = None
        return response

    def stubber() -> Any:
        stub = original_stubber()

        def answer(*args: Any, **kwargs: Any) -> Any:
            try:
                return stub(*args, **kwargs)
            finally:
                call = getattr(local, "call", None)
                if call is not None:
                    call.ended = time.monotonic()
                    local.call = None

        return answer

    acct._log_call = log_call  # type: ignore[method-assign]
    hooks._serve = serve
    hooks._moto_stubber = stubber
    try:
        yield timed
    finally:
        acct._log_call = original_log  # type: ignore[method-assign]
        hooks._serve = original_serve
        hooks._moto_stubber = original_stubber
