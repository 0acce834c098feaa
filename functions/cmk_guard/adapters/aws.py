"""boto3 clients with cmk-guard's retry policy, and the translation of AWS errors into cmk-guard errors."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from cmk_guard.errors import AccessDeniedError, ConflictError, InvalidRequestError, ResourceGoneError, TransientError

if TYPE_CHECKING:
    from collections.abc import Iterator

# Standard mode retries throttling and 5xx with exponential backoff and full jitter.
SDK_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="cmk-guard/0.1",
)
# The preventive hook answers CloudFormation, which waits at most 30 seconds for it: two attempts in all (botocore's
# max_attempts would count retries only) and short timeouts, so its two reads end well within the function's 25 s.
HOOK_SDK_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=2,
    read_timeout=3,
    user_agent_extra="cmk-guard/0.1",
)
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "KMSInternalException",
        "DependencyTimeoutException",
    }
)
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "AuthorizationError"})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NotFoundException", "NotFound"})
# Busy or changing elsewhere: not retried (a retry could overwrite someone else's change); the workflow says so.
CONFLICT_CODES = frozenset(
    {
        "ConflictException",
        "ResourceConflictException",
        "ResourceInUseException",
        "KMSInvalidStateException",
        "ConcurrentAccess",
    }
)


@lru_cache(maxsize=32)
def client(service: str, region: str) -> Any:
    """A cached client per service and region (reused across warm invocations)."""
    return boto3.session.Session().client(service, region_name=region, config=SDK_CONFIG)


@lru_cache(maxsize=8)
def hook_client(service: str, region: str) -> Any:
    """A cached client for the preventive hook (``HOOK_SDK_CONFIG``)."""
    return boto3.session.Session().client(service, region_name=region, config=HOOK_SDK_CONFIG)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Re-raise AWS errors as cmk-guard errors that the state machine routes: transient, denied, gone."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = f"{action}: {code}: {exc.response.get('Error', {}).get('Message', '')}"
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in THROTTLING_CODES or status >= 500:
            raise TransientError(message) from exc
        if code in DENIED_CODES:
            raise AccessDeniedError(message) from exc
        if code in NOT_FOUND_CODES:
            raise ResourceGoneError(message) from exc
        if code in CONFLICT_CODES:
            raise ConflictError(message) from exc
        raise
    except ParamValidationError as exc:
        raise InvalidRequestError(f"{action}: {exc}") from exc
    except BotoCoreError as exc:
        raise TransientError(f"{action}: {exc}") from exc
