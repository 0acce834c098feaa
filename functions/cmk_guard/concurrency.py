"""Independent AWS calls made at once, so a step waits for the slowest of them rather than for their sum."""

from __future__ import annotations

import contextvars
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def at_once(*calls: Callable[[], Any]) -> list[Future[Any]]:
    """Run ``calls`` in threads of their own, each in a copy of the caller's context, and wait for all of them.

    Every call runs to its end even if another fails; ``result()`` of each future returns its value or raises its
    error, so the caller decides which failure matters. boto3 clients are safe to share between threads.
    """
    if len(calls) == 1:  # nothing to overlap with: no thread
        done: Future[Any] = Future()
        try:
            done.set_result(calls[0]())
        except Exception as exc:  # noqa: BLE001 - kept for result() to raise, as a thread's would be
            done.set_exception(exc)
        return [done]
    with ThreadPoolExecutor(max_workers=max(1, len(calls)), thread_name_prefix="cmk-guard") as pool:
        futures = [pool.submit(contextvars.copy_context().run, call) for call in calls]
    return futures
