"""Lambda: the sweep's next page of knowledge bases (and the previous page's counts folded into the totals)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.core.sweep import SweepProgress
from cmk_guard.handlers import _wiring as wiring
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.sweep import list_knowledge_bases

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SWEEP_CORRELATION_PATH = "input.sweep.sweepId"


@logger.inject_lambda_context(correlation_id_path=SWEEP_CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    config = wiring.settings()
    progress = SweepProgress.model_validate(payload.input)
    result = list_knowledge_bases(
        progress, payload.execution_arn, wiring.bedrock(config.region), config.sweep_knowledge_base_page_size
    )
    logger.info(
        "listed knowledge bases",
        extra={"page": result.pages, "knowledgeBases": len(result.knowledge_base_ids), "finished": result.finished},
    )
    return result.to_state()
