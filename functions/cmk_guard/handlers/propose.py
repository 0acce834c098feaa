"""Lambda: describe the proposed fix (notify and approval modes) or ask for approval (the callback task)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.adapters.approvals import ApprovalStore
from cmk_guard.adapters.aws import client
from cmk_guard.adapters.notifier import Notifier
from cmk_guard.errors import InvalidEventError
from cmk_guard.core.report import approval_requested_point
from cmk_guard.handlers import _wiring as wiring
from cmk_guard.handlers._metrics import emit
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.propose import RequestPorts, run_describe, run_request

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_TASK_TOKEN = 2048


def _text(event: dict[str, Any], name: str, limit: int) -> str:
    """A required string of the payload, read without echoing it into any error (it may be the task token)."""
    value = event.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise InvalidEventError(f"the approval request needs {name} (a string of 1 to {limit} characters)")
    return value


# log_event=False whatever the environment says: the request's payload carries the task token.
@logger.inject_lambda_context(correlation_id_path=wiring.CORRELATION_PATH, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    config = wiring.settings()
    if payload.action == "describe":
        proposal = run_describe(payload.input, config, wiring.kms(payload.target.region))
        logger.info(
            "fix described", extra={"keyAction": proposal.get("keyAction"), "strategy": proposal.get("strategy")}
        )
        return proposal
    if payload.action == "request":
        ports = RequestPorts(
            store=ApprovalStore(client("dynamodb", config.region), config.ledger_table_name),
            notifier=Notifier(client("sns", config.region), config.approval_topic_arn),
        )
        result = run_request(
            payload.input,
            payload.execution_arn,
            task_token=_text(event, "taskToken", MAX_TASK_TOKEN),
            page_url=_text(event, "pageUrl", 512),
            ports=ports,
        )
        emit([approval_requested_point()])
        logger.info("approval requested", extra={"deadline": result["deadline"]})
        return result
    raise InvalidEventError(f"unknown action {payload.action!r}: expected 'describe' or 'request'")
