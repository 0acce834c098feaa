"""Lambda: the key step (select or create the customer-managed key)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.handlers import _wiring as wiring
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.key import run_key, run_repair

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=wiring.CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    target, config = payload.target, wiring.settings()
    remote = wiring.in_account(target.account_id, "key", payload.execution_arn, config)
    config = wiring.key_settings(config, remote, target.region)
    if payload.action == "repair":
        repair = run_repair(target, payload.knowledge_base, payload.input["key"]["keyArn"], config, remote.kms(target.region))
        repair["failedJobId"] = (payload.input.get("ingestion") or {}).get("jobId")
        logger.info("key policy repair", extra={"repaired": repair["repaired"], "cause": repair["cause"]})
        return repair
    result = run_key(target, payload.knowledge_base, config, remote.kms(target.region),
                     claims=wiring.ledger(config), execution_arn=payload.execution_arn)
    logger.info("key ready", extra={"keyArn": result["keyArn"], "keyCreated": result["created"]})
    return result
