"""at_once: independent calls run together, each failure kept for its own caller, the caller's context carried."""

from __future__ import annotations

import contextvars
import threading

import pytest

from cmk_guard.concurrency import at_once

WHO = contextvars.ContextVar("who", default="nobody")


def test_calls_overlap_and_a_failure_does_not_stop_the_others() -> None:
    both_started = threading.Barrier(2, timeout=5)  # would time out if the calls ran one after the other

    def first() -> str:
        both_started.wait()
        return "first"

    def second() -> str:
        both_started.wait()
        raise ValueError("second failed")

    done_first, done_second = at_once(first, second)
    assert done_first.result() == "first"
    with pytest.raises(ValueError, match="second failed"):
        done_second.result()


def test_each_call_sees_the_callers_context_and_a_single_call_runs_in_the_callers_thread() -> None:
    WHO.set("the check step")
    seen = at_once(WHO.get, WHO.get)
    assert [f.result() for f in seen] == ["the check step", "the check step"]
    (alone,) = at_once(threading.get_ident)
    assert alone.result() == threading.get_ident()
    (failed,) = at_once(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failed.result()
