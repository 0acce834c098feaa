"""Fault injection for every service called through botocore, with each service's real error codes."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum

from .wire import ServiceError


class Fault(str, Enum):
    """Kinds of injected faults."""

    THROTTLE = "THROTTLE"
    SERVER_ERROR = "SERVER_ERROR"
    ACCESS_DENIED = "ACCESS_DENIED"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    LATENCY = "LATENCY"


_T, _S, _A, _N, _C = Fault.THROTTLE, Fault.SERVER_ERROR, Fault.ACCESS_DENIED, Fault.NOT_FOUND, Fault.CONFLICT

# (code, HTTP status) per service as the real service answers; "json"/"query"/... are per-protocol fallbacks.
_CODES: dict[str, dict[Fault, tuple[str, int]]] = {
    "bedrock-agent": {_T: ("ThrottlingException", 429), _S: ("InternalServerException", 500),
                      _A: ("AccessDeniedException", 403), _N: ("ResourceNotFoundException", 404),
                      _C: ("ConflictException", 409)},
    "kms": {_T: ("ThrottlingException", 400), _S: ("KMSInternalException", 500), _A: ("AccessDeniedException", 400),
            _N: ("NotFoundException", 400), _C: ("KMSInvalidStateException", 400)},
    "dynamodb": {_T: ("ThrottlingException", 400), _S: ("InternalServerError", 500),
                 _A: ("AccessDeniedException", 400), _N: ("ResourceNotFoundException", 400),
                 _C: ("ResourceInUseException", 400)},
    "stepfunctions": {_T: ("ThrottlingException", 400), _S: ("InternalFailure", 500),
                      _A: ("AccessDeniedException", 400), _N: ("ResourceNotFound", 400),
                      _C: ("ConflictException", 400)},
    "lambda": {_T: ("TooManyRequestsException", 429), _S: ("ServiceException", 500),
               _A: ("AccessDeniedException", 403), _N: ("ResourceNotFoundException", 404),
               _C: ("ResourceConflictException", 409)},
    "sns": {_T: ("Throttled", 429), _S: ("InternalError", 500), _A: ("AuthorizationError", 403),
            _N: ("NotFound", 404), _C: ("ConcurrentAccess", 400)},
    "sqs": {_T: ("RequestThrottled", 400), _S: ("InternalFailure", 500), _A: ("AccessDenied", 403),
            _N: ("QueueDoesNotExist", 400), _C: ("ResourceInUse", 400)},
    "iam": {_T: ("Throttling", 400), _S: ("ServiceFailure", 500), _A: ("AccessDenied", 403),
            _N: ("NoSuchEntity", 404), _C: ("EntityAlreadyExists", 409)},
    "cloudwatch": {_T: ("Throttling", 400), _S: ("InternalServiceError", 500), _A: ("AccessDenied", 403),
                   _N: ("ResourceNotFound", 404), _C: ("ConcurrentModificationException", 429)},
    "cloudtrail": {_T: ("ThrottlingException", 400), _S: ("InternalFailure", 500),
                   _A: ("AccessDeniedException", 400), _N: ("ResourceNotFoundException", 400),
                   _C: ("ConflictException", 400)},
    "s3": {_T: ("SlowDown", 503), _S: ("InternalError", 500), _A: ("AccessDenied", 403), _N: ("NoSuchKey", 404),
           _C: ("OperationAborted", 409)},
    "json": {_T: ("ThrottlingException", 400), _S: ("InternalFailure", 500), _A: ("AccessDeniedException", 400),
             _N: ("ResourceNotFoundException", 400), _C: ("ConflictException", 400)},
    "rest-json": {_T: ("ThrottlingException", 429), _S: ("InternalServerException", 500),
                  _A: ("AccessDeniedException", 403), _N: ("ResourceNotFoundException", 404),
                  _C: ("ConflictException", 409)},
    "query": {_T: ("Throttling", 400), _S: ("InternalFailure", 500), _A: ("AccessDenied", 403),
              _N: ("ResourceNotFound", 404), _C: ("ConflictException", 409)},
    "ec2": {_T: ("RequestLimitExceeded", 503), _S: ("InternalError", 500), _A: ("UnauthorizedOperation", 403),
            _N: ("InvalidID.NotFound", 400), _C: ("IncorrectState", 400)},
    "rest-xml": {_T: ("SlowDown", 503), _S: ("InternalError", 500), _A: ("AccessDenied", 403),
                 _N: ("NotFound", 404), _C: ("OperationAborted", 409)},
}

_DDB_ITEM_OPS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
                 "TransactGetItems", "TransactWriteItems", "ExecuteStatement", "BatchExecuteStatement"}


def _operation_override(service: str, operation: str, fault: Fault) -> tuple[str, int] | None:
    if service == "dynamodb" and operation in _DDB_ITEM_OPS:
        if fault is _T:
            return ("ProvisionedThroughputExceededException", 400)
        if fault is _C:
            return ("TransactionCanceledException" if operation.startswith("Transact")
                    else "ConditionalCheckFailedException", 400)
    if service == "stepfunctions":
        if fault is _N and "Execution" in operation:
            return ("ExecutionDoesNotExist", 400)
        if fault is _N and "StateMachine" in operation:
            return ("StateMachineDoesNotExist", 400)
        if fault is _N and operation.startswith("SendTask"):
            return ("TaskDoesNotExist", 400)
        if fault is _C and operation == "StartExecution":
            return ("ExecutionAlreadyExists", 400)
    return None


_MESSAGES = {
    _T: "Rate exceeded", _S: "An internal error occurred (injected fault)", _N: "Resource not found (injected fault)",
    _C: "Conflicting operation in progress (injected fault)",
}


def fault_error(fault: Fault, service: str, operation: str, protocol: str, principal: str, action_prefix: str,
                message: str | None = None) -> ServiceError:
    """The error the real ``service`` returns for an injected ``fault``."""
    code, status = (_operation_override(service, operation, fault)
                    or _CODES.get(service, {}).get(fault) or _CODES.get(protocol, _CODES["json"])[fault])
    if message is None:
        message = (f"User: {principal} is not authorized to perform: {action_prefix}:{operation} (injected fault)"
                   if fault is _A else _MESSAGES[fault])
    return ServiceError(code, message, status)


@dataclass
class FaultRule:
    """One injected fault; ``times`` left (``None`` = forever) and ``hits`` so far. ``params``: only calls whose
    API parameters include these values (one knowledge base, one data source, one key...)."""

    service: str
    operation: str | None
    fault: Fault
    times: int | None = None
    seconds: float = 0.0
    principal: str | None = None
    message: str | None = None
    hits: int = 0
    params: dict | None = None

    def matches(self, service: str, operation: str, principal: str, params: dict | None = None) -> bool:
        return (self.service in (service, "*") and self.operation in (None, "*", operation)
                and (self.principal is None or self.principal == principal)
                and (not self.params or all((params or {}).get(k) == v for k, v in self.params.items()))
                and (self.times is None or self.times > 0))


class FaultInjector:
    """Thread-safe list of fault rules; the first matching rule fires for each call attempt."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, service: str, operation: str | None = None, fault: Fault = Fault.THROTTLE, *,
            times: int | None = None, seconds: float = 0.0, principal: str | None = None,
            message: str | None = None, params: dict | None = None) -> FaultRule:
        """Inject ``fault`` into ``service.operation`` (``operation=None``: every operation; ``service="*"``:
        every service) ``times`` times (``None``: forever), optionally only for calls made as ``principal`` or
        only for calls whose parameters include ``params`` (e.g. ``{"dataSourceId": ...}``).
        ``LATENCY`` sleeps ``seconds`` and then lets the call through."""
        rule = FaultRule(service, operation, Fault(fault), times, seconds, principal, message, params=params)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, service: str, operation: str, principal: str, params: dict | None = None) -> FaultRule | None:
        """Consume one use of the first rule matching this attempt."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(service, operation, principal, params):
                    rule.hits += 1
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None
