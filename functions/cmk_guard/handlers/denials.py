"""Lambda: a KMS access error from CloudTrail (EventBridge rule); counted when the key is cmk-guard's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.handlers import _wiring as wiring
from cmk_guard.handlers._metrics import emit
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.denials import run_denials

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# The CloudTrail event id of the refused call.
CORRELATION_PATH = "detail.eventID"


@logger.inject_lambda_context(correlation_id_path=CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result, points = run_denials(event, wiring.settings(), wiring.kms)
    emit(points)
    if result["counted"]:
        logger.warning("KMS access denied on a cmk-guard key", extra=result)
    else:
        logger.info("KMS access error ignored", extra=result)
    return result
