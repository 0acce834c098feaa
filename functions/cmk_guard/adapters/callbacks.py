"""Step Functions callbacks: hand a decision to the task waiting for it.

Errors are reported by code only: a service message could echo the task token, and nothing here may log it.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from cmk_guard.adapters.aws import THROTTLING_CODES, error_code
from cmk_guard.errors import CmkGuardError, TransientError

# The task is gone: it timed out, its execution ended, or the token belongs to no running task.
NOT_WAITING_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class CallbackError(CmkGuardError):
    """Step Functions refused the callback for a reason other than the task being gone (for example access)."""


class TaskCallbacks:
    def __init__(self, client: Any) -> None:
        self._client = client

    def send_success(self, task_token: str, output: dict[str, Any]) -> bool:
        """``True`` when the waiting task took the output, ``False`` when no task waits for this token any more."""
        try:
            self._client.send_task_success(taskToken=task_token, output=json.dumps(output, sort_keys=True))
        except ClientError as exc:
            code = error_code(exc)
            if code in NOT_WAITING_CODES:
                return False
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in THROTTLING_CODES or status >= 500:
                raise TransientError(f"SendTaskSuccess: {code}") from None
            raise CallbackError(f"SendTaskSuccess: {code}") from None
        except ParamValidationError:
            raise CallbackError("SendTaskSuccess: the request was refused before it was sent") from None
        except BotoCoreError as exc:
            raise TransientError(f"SendTaskSuccess: {type(exc).__name__}") from None
        return True
