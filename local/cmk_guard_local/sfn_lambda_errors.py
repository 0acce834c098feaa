"""Step Functions' names for Lambda service errors, in moto's interpreter.

For a ``Task`` whose ``Resource`` is a function ARN, Step Functions reports an error of the Lambda service itself
(not of the function) as ``Lambda.<error code>``, for example ``Lambda.TooManyRequestsException`` when the function
is at its reserved concurrency; that is the name cmk-guard's ``Retry`` blocks list. moto 5.2.5 names every such
error ``Exception`` instead. ``install`` makes the interpreter use the service's names; function errors (a handler
that raised) keep their ``errorType``. This touches one internal of the pinned moto and nothing else.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

_INSTALLED = False


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskLambda._from_error

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error = f"Lambda.{ex.response.get('Error', {}).get('Code') or 'Unknown'}"
        cause = str(ex.response.get("Error", {}).get("Message", ""))
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause)
            ),
        )

    StateTaskLambda._from_error = _from_error
    _INSTALLED = True
