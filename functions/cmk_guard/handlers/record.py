"""Lambda: record the outcome (ledger, metrics, notification) and release the lock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from cmk_guard.handlers import _wiring as wiring
from cmk_guard.observability import logger, metrics, tracer
from cmk_guard.steps.record import run_record

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from cmk_guard.core.report import MetricPoint


def _emit(points: list[MetricPoint]) -> None:
    for point in points:
        if point.dimensions:
            with single_metric(name=point.name, unit=MetricUnit(point.unit), value=point.value) as metric:
                for key, value in point.dimensions:
                    metric.add_dimension(name=key, value=value)
        else:
            metrics.add_metric(name=point.name, unit=MetricUnit(point.unit), value=point.value)


@logger.inject_lambda_context(correlation_id_path=wiring.CORRELATION_PATH)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = wiring.StepPayload.model_validate(event)
    config = wiring.settings()
    result, points = run_record(
        payload.input, payload.execution_arn, wiring.ledger(config), wiring.notifier(config), event.get("startedAt")
    )
    _emit(points)
    if metrics.metric_set:
        metrics.flush_metrics()
    logger.info("recorded", extra={"outcome": result["outcome"]})
    return result
