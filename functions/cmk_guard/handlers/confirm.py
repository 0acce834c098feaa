"""Lambda: look for the key's KMS events in CloudTrail (one paced look-up per invocation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.handlers import _wiring as wiring
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.confirm import run_confirm

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=wiring.CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    target, state, config = payload.target, payload.input, wiring.settings()
    remote = wiring.in_account(target.account_id, "confirm", payload.execution_arn, config)
    result = run_confirm(
        key_arn=state["key"]["keyArn"],
        role_arn=payload.knowledge_base.role_arn,
        applied_at=state["apply"]["appliedAt"],
        attempt=int((state.get("verification") or {}).get("attempt", 0)),
        settings=config,
        cloudtrail=remote.cloudtrail(target.region),
    )
    logger.info("confirmation", extra={"found": result["found"], "attempt": result["attempt"]})
    return result
