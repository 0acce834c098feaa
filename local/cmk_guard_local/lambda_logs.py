"""What the in-process functions print, written where Lambda writes it: the emulated account's CloudWatch Logs.

Every invocation's captured lines (Powertools JSON logs and EMF metric records) go to the function's log group (its
``LoggingConfig.LogGroup`` in template.yaml) in one stream per function, named the way Lambda names a stream. The
lines go into moto's logs backend directly, not through botocore, so the emulated call log and CloudTrail keep
showing only what cmk-guard itself called.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cmk_guard_local.lambda_runtime import LocalFunction


def _backend(account_id: str, region: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[account_id][region]


class LambdaLogs:
    """An ``on_invoke`` listener for ``lambda_runtime``: appends each invocation's lines to the function's logs."""

    def __init__(self, account_id: str, region: str, log_groups: Mapping[str, str]) -> None:
        self.account_id = account_id
        self.region = region
        self.log_groups = dict(log_groups)  # function name -> log group name
        self._streams: dict[str, str] = {}
        self._lock = threading.Lock()

    def create_groups(self) -> None:
        """Create every function's log group, as the stack's ``AWS::Logs::LogGroup`` resources do."""
        with self._lock:
            backend = _backend(self.account_id, self.region)
            for group in sorted(set(self.log_groups.values())):
                if group not in backend.groups:
                    backend.create_log_group(group, tags={})

    def log_group(self, function_name: str) -> str:
        return self.log_groups.get(function_name, f"/aws/lambda/{function_name}")

    def _stream(self, backend: Any, group: str) -> str:
        stream = self._streams.get(group)
        if stream is None:
            if group not in backend.groups:
                backend.create_log_group(group, tags={})
            day = datetime.now(UTC).strftime("%Y/%m/%d")
            stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"
            backend.create_log_stream(group, stream)
            self._streams[group] = stream
        return stream

    def __call__(self, function: LocalFunction, event: Any, result: Any, lines: list[str]) -> None:
        if not lines:
            return
        now = int(time.time() * 1000)
        with self._lock:  # moto's log streams are not thread-safe
            backend = _backend(self.account_id, self.region)
            group = self.log_group(function.name)
            events = [{"timestamp": now, "message": line} for line in lines]
            backend.put_log_events(group, self._stream(backend, group), events)

    def messages(self, function_name: str) -> list[str]:
        """Every line written for ``function_name``, oldest first (read from moto, no botocore call)."""
        with self._lock:
            group = _backend(self.account_id, self.region).groups.get(self.log_group(function_name))
            if group is None:
                return []
            return [event.message for stream in group.streams.values() for event in stream.events]
