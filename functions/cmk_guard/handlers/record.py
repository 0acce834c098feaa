"""Lambda: record the outcome (ledger, metrics, notification) and release the lock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.handlers import _wiring as wiring
from cmk_guard.handlers._metrics import emit
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.record import run_record

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=wiring.CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    config = wiring.settings()
    result, points = run_record(
        payload.input, payload.execution_arn, wiring.ledger(config), wiring.notifier(config), event.get("startedAt")
    )
    emit(points)
    logger.info("recorded", extra={"outcome": result["outcome"]})
    return result
