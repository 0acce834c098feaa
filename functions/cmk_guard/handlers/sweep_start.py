"""Lambda: start the remediate workflow for the non-compliant data sources one sweep evaluation found."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from cmk_guard.adapters.aws import client
from cmk_guard.adapters.workflows import Workflows
from cmk_guard.core.sweep import KnowledgeBaseSweep
from cmk_guard.handlers import _wiring as wiring
from cmk_guard.handlers.sweep_list import SWEEP_CORRELATION_PATH
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.sweep import run_start

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


STATE_MACHINE_ARN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w.-]{1,80}$"


class StartPayload(wiring.StepPayload):
    """The sweep passes the remediate state machine's ARN (a definition substitution) with the state."""

    state_machine_arn: str = Field(alias="stateMachineArn", pattern=STATE_MACHINE_ARN)


@logger.inject_lambda_context(correlation_id_path=SWEEP_CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = StartPayload.model_validate(event)
    config = wiring.settings()
    state = KnowledgeBaseSweep.model_validate(payload.input)
    workflows = Workflows(client("stepfunctions", state.sweep.region))
    updated, decisions = run_start(state, payload.state_machine_arn, wiring.ledger(config), workflows)
    for decision in decisions:
        logger.info("remediation", extra={"knowledgeBaseId": state.knowledge_base_id, **decision})
    return updated.to_state()
