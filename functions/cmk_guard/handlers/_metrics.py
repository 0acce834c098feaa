"""Emit metric points with Powertools (embedded metric format on stdout; CloudWatch Logs extracts them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from cmk_guard.core.report import MetricPoint


def emit(points: list[MetricPoint]) -> None:
    """One EMF record per point: a point's dimensions never leak onto another metric, and nothing is shared
    between invocations (the ``Metrics`` singleton keeps its metric set at class level). Powertools adds the
    ``service`` dimension and the ``CmkGuard`` namespace from the environment."""
    for point in points:
        with single_metric(name=point.name, unit=MetricUnit(point.unit), value=point.value) as metric:
            for key, value in point.dimensions:
                metric.add_dimension(name=key, value=value)
