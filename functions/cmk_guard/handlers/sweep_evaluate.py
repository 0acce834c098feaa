"""Lambda: evaluate one bounded page of a knowledge base's data sources for the sweep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cmk_guard.core.sweep import STOP_MARGIN_MILLIS, KnowledgeBaseSweep
from cmk_guard.handlers import _wiring as wiring
from cmk_guard.handlers.sweep_list import SWEEP_CORRELATION_PATH
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.sweep import run_evaluate

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=SWEEP_CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    config = wiring.settings()
    state = KnowledgeBaseSweep.model_validate(payload.input)
    updated, findings = run_evaluate(
        state,
        wiring.bedrock(state.sweep.region),
        wiring.kms,
        config.mode,
        config.sweep_data_source_page_size,
        datetime.now(UTC),
        keep_going=lambda: context.get_remaining_time_in_millis() > STOP_MARGIN_MILLIS,
    )
    for finding in findings:
        logger.info("evaluated", extra={"finding": finding.to_state()})
    logger.info("evaluated page", extra={"knowledgeBaseId": state.knowledge_base_id, "dataSources": len(findings),
                                         "pending": len(updated.pending), "more": updated.more})
    return updated.to_state()
