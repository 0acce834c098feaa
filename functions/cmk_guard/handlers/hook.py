"""Lambda: the preventive CloudFormation hook on ``AWS::Bedrock::DataSource`` (optional, ``EnablePreventiveHook``).

CloudFormation invokes it through the hook's execution role before it creates or updates a data source, and waits at
most 30 seconds for the answer. Request and response follow the CloudFormation Hooks User Guide, "Create Lambda
functions to evaluate resources for Lambda Hooks"
(https://docs.aws.amazon.com/cloudformation-cli/latest/hooks-userguide/lambda-hooks-create-lambda-function.html);
see ``core.hook_request`` and ``core.hook_response``. Whether a ``FAILED`` answer stops the deployment or only warns
is the hook's ``FailureMode`` in template.yaml (``EnablePreventiveHook`` = ``fail`` or ``warn``), not this code.

The handler never raises: an exception would leave CloudFormation without an answer, so anything unexpected becomes
a ``FAILED``/``InternalFailure`` response that says where to look.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from cmk_guard.adapters.aws import hook_client
from cmk_guard.adapters.bedrock import BedrockAgent
from cmk_guard.core.hook_request import token_of
from cmk_guard.core.hook_response import respond
from cmk_guard.core.hook_verdict import hook_error
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.hook import evaluate_request

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def bedrock(region: str) -> BedrockAgent:
    return BedrockAgent(hook_client("bedrock-agent", region))


@logger.inject_lambda_context(correlation_id_path="clientRequestToken")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        finding = evaluate_request(event, os.environ.get("AWS_REGION"), bedrock)
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into an answer CloudFormation reads
        logger.exception("hook evaluation failed")
        finding = hook_error(type(exc).__name__)
    logger.info(
        "hook decided", extra={"decision": finding.decision, "verdict": finding.verdict, "reason": finding.reason}
    )
    return respond(token_of(event), finding)
