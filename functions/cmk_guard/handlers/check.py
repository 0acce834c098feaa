"""Lambda: the check step (verdict, mode, lock)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.handlers import _wiring as wiring
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.check import CheckPorts, run_check

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=wiring.CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    config = wiring.settings()
    remote = wiring.in_account(wiring.event_account(payload.input, config), "check", payload.execution_arn, config)
    ports = CheckPorts(bedrock=remote.bedrock, kms=remote.kms, ledger=wiring.ledger(config))
    result = run_check(payload.input, payload.execution_arn, config, ports)
    logger.info("checked", extra={k: result.get("check", {}).get(k) for k in ("verdict", "reason", "mode")})
    return result
