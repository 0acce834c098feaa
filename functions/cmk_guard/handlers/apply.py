"""Lambda: the apply step (the lossless UpdateDataSource)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.handlers import _wiring as wiring
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.apply import run_apply

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=wiring.CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    target, config = payload.target, wiring.settings()
    result = run_apply(
        target,
        key_arn=payload.input["key"]["keyArn"],
        checked_key_arn=payload.input["check"].get("currentKeyArn"),
        execution_arn=payload.execution_arn,
        bedrock=wiring.in_account(target.account_id, "apply", payload.execution_arn, config).bedrock(target.region),
        ledger=wiring.ledger(config),
    )
    result["syncAfterUpdate"] = config.sync_after_update
    logger.info("data source updated", extra={"appliedAt": result["appliedAt"]})
    return result
