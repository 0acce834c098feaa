"""In-process Lambda: Step Functions' ``lambda:Invoke`` calls run the real handlers in this process.

A ``before-call.lambda.Invoke`` hook (installed in botocore's built-in handlers, like moto's own) finds the
registered function, runs its handler as the function's execution role (for the emulated CloudTrail), captures
what it prints (Powertools logs and EMF metrics) and answers the way Lambda does, including ``FunctionError``.
A function with reserved concurrency runs at most that many invocations at once; one more is refused with
``TooManyRequestsException`` (HTTP 429), as Lambda refuses it, and Step Functions names it
``Lambda.TooManyRequestsException`` (see ``sfn_lambda_errors``).
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore import handlers as botocore_handlers
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from cmk_guard_local import sfn_lambda_errors
from cmk_guard_local.emulator import acting_as


class _ThreadStdout(io.TextIOBase):
    """Routes writes from a thread that runs a handler into that invocation's buffer; the rest to the real stdout."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self._local = threading.local()

    def capture(self, sink: list[str] | None) -> None:
        self._local.sink = sink

    def write(self, text: str) -> int:
        sink = getattr(self._local, "sink", None)
        if sink is None:
            return self.real.write(text)
        sink.append(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()


STDOUT = sys.stdout if isinstance(sys.stdout, _ThreadStdout) else _ThreadStdout(sys.stdout)
sys.stdout = STDOUT


@dataclass
class FakeContext:
    """The parts of ``LambdaContext`` that Powertools reads."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_seconds: int = 60
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


@dataclass
class LocalFunction:
    name: str
    arn: str
    handler: str
    role_arn: str
    timeout_seconds: int = 60
    reserved_concurrency: int | None = None
    log_lines: list[str] = field(default_factory=list)
    invocations: int = 0
    throttles: int = 0
    running: int = 0
    peak_running: int = 0
    _callable: Callable[..., Any] | None = None
    _gate: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def enter(self) -> bool:
        """Take an execution slot; ``False`` (and a throttle counted) when the reserved concurrency is in use."""
        with self._gate:
            if self.reserved_concurrency is not None and self.running >= self.reserved_concurrency:
                self.throttles += 1
                return False
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
            return True

    def leave(self) -> None:
        with self._gate:
            self.running -= 1

    def load(self) -> Callable[..., Any]:
        if self._callable is None:
            module, _, attribute = self.handler.rpartition(".")
            self._callable = getattr(importlib.import_module(module), attribute)
        return self._callable


_FUNCTIONS: dict[str, LocalFunction] = {}
_LOCK = threading.Lock()
InvokeListener = Callable[[LocalFunction, dict[str, Any], Any, list[str]], None]
_LISTENERS: list[InvokeListener] = []


def register(function: LocalFunction) -> None:
    with _LOCK:
        _FUNCTIONS[function.name] = function
        _FUNCTIONS[function.arn] = function


def lookup(name_or_arn: str) -> LocalFunction | None:
    """A registered function by name or ARN (for callers other than ``lambda:Invoke``, such as an HTTP API)."""
    with _LOCK:
        return _FUNCTIONS.get(name_or_arn)


def clear() -> None:
    with _LOCK:
        _FUNCTIONS.clear()
        _LISTENERS.clear()


def on_invoke(listener: InvokeListener) -> None:
    """Called after every invocation with (function, event, result or exception, captured lines)."""
    _LISTENERS.append(listener)


def _function_from(request_dict: dict[str, Any]) -> LocalFunction | None:
    path = request_dict.get("url_path", "")
    parts = path.split("/")
    if len(parts) < 4:
        return None
    name = urllib.parse.unquote(parts[3]).split(":$LATEST")[0]
    return _FUNCTIONS.get(name)


def run(function: LocalFunction, event: Any) -> tuple[Any, bool, list[str]]:
    """Run the handler; returns (result or error document, errored, captured output lines)."""
    if sys.stdout is not STDOUT:  # a test runner swapped stdout: route through the capturing proxy again
        STDOUT.real = sys.stdout
        sys.stdout = STDOUT
    captured: list[str] = []
    context = FakeContext(
        function_name=function.name, invoked_function_arn=function.arn, timeout_seconds=function.timeout_seconds
    )
    STDOUT.capture(captured)
    try:
        with acting_as(function.role_arn):
            result: Any = function.load()(event, context)
        errored = False
    except Exception as exc:  # the Lambda runtime turns any exception into a function error
        result = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__)[-3:],
        }
        errored = True
    finally:
        STDOUT.capture(None)
    lines = [line for line in "".join(captured).splitlines() if line.strip()]
    function.invocations += 1
    function.log_lines.extend(lines)
    for listener in list(_LISTENERS):
        listener(function, event, result, lines)
    return result, errored, lines


def _throttled(function: LocalFunction) -> tuple[AWSResponse, dict[str, Any]]:
    """Lambda's answer to an invocation beyond the function's reserved concurrency."""
    error = {
        "Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."},
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "ResponseMetadata": {"HTTPStatusCode": 429, "HTTPHeaders": {}, "RequestId": str(uuid.uuid4())},
    }
    return AWSResponse(f"https://lambda.local/{function.name}", 429, {}, None), error


def _invoke(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    function = _function_from(params)
    if function is None:
        return None
    if not function.enter():
        return _throttled(function)
    try:
        body = params.get("body") or b"{}"
        event = json.loads(body.decode() if isinstance(body, bytes) else body)
        result, errored, _lines = run(function, event)
    finally:
        function.leave()
    payload = json.dumps(result, default=str).encode()
    parsed: dict[str, Any] = {
        "StatusCode": 200,
        "ExecutedVersion": "$LATEST",
        "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}},
    }
    if errored:
        parsed["FunctionError"] = "Unhandled"
    return AWSResponse(f"https://lambda.local/{function.name}", 200, {}, None), parsed


sfn_lambda_errors.install()
if ("before-call.lambda.Invoke", _invoke) not in botocore_handlers.BUILTIN_HANDLERS:
    botocore_handlers.BUILTIN_HANDLERS.append(("before-call.lambda.Invoke", _invoke))
