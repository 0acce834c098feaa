"""Lambda: start or poll the confirming ingestion job (``action`` is ``start`` or ``poll``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.errors import InvalidEventError
from cmk_guard.handlers import _wiring as wiring
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.ingest import poll_ingestion, start_ingestion

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=wiring.CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    target, config = payload.target, wiring.settings()
    bedrock = wiring.in_account(target.account_id, "ingest", payload.execution_arn, config).bedrock(target.region)
    if payload.action == "start":
        result = start_ingestion(target, payload.execution_arn, config, bedrock)
    elif payload.action == "restart":  # once, after the key policy was repaired
        result = start_ingestion(target, payload.execution_arn, config, bedrock, attempt=1)
    elif payload.action == "poll":
        result = poll_ingestion(target, payload.input["ingestion"], config, bedrock)
    else:
        raise InvalidEventError(f"unknown ingest action {payload.action!r}")
    logger.info("ingestion", extra={"jobId": result["jobId"], "status": result["status"]})
    return result
