"""Lambda: the sweep's summary, and its metrics (``ComplianceRatio`` and the counts per verdict) as EMF."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from cmk_guard.core.sweep import SweepProgress
from cmk_guard.handlers import _wiring as wiring
from cmk_guard.handlers.sweep_list import SWEEP_CORRELATION_PATH
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.sweep import run_report

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=SWEEP_CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    summary, points = run_report(SweepProgress.model_validate(payload.input))
    # Its own metric set (service and namespace from the environment): nothing another handler added rides along.
    metrics = EphemeralMetrics()
    for point in points:
        metrics.add_metric(name=point.name, unit=MetricUnit(point.unit), value=point.value)
    metrics.flush_metrics()
    logger.info("sweep finished", extra=summary)
    return summary
