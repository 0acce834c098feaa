"""Metric points are pure functions of the workflow state, and only catalogued metrics can exist."""

from __future__ import annotations

import pytest

from cmk_guard.core import metrics
from cmk_guard.core.models import Outcome
from cmk_guard.core.report import MetricPoint, approval_requested_point, metric_points

from .test_outcome import remediated


def points_by_name(state: dict, outcome: Outcome) -> dict[str, list[MetricPoint]]:
    grouped: dict[str, list[MetricPoint]] = {}
    for point in metric_points(state, outcome):
        grouped.setdefault(point.name, []).append(point)
    return grouped


def approval_state(**approval: str) -> dict:
    return {**remediated(True), "check": {"verdict": "NON_COMPLIANT", "mode": "approval"}, "approval": approval}


def test_approval_wait_runs_from_the_request_to_the_decision() -> None:
    # GIVEN an approval requested at 06:00:10 and decided 2 hours 30 minutes and 5 seconds later
    state = approval_state(requestedAt="2026-11-29T06:00:10+00:00", decidedAt="2026-11-29T08:30:15Z", decision="approved")
    # WHEN the record step turns the state into metric points
    (wait,) = points_by_name(state, Outcome.REMEDIATED_VERIFIED)[metrics.APPROVAL_WAIT]
    # THEN the wait is the seconds between the two, with no dimension
    assert (wait.value, wait.unit, wait.dimensions) == (9005.0, "Seconds", ())


@pytest.mark.parametrize(
    "approval",
    [
        {},
        {"requestedAt": "2026-11-29T06:00:10+00:00"},
        {"requestedAt": "2026-11-29T06:00:10+00:00", "decidedAt": "not a time"},
    ],
)
def test_no_approval_wait_without_both_times(approval: dict) -> None:
    assert metrics.APPROVAL_WAIT not in points_by_name(approval_state(**approval), Outcome.REMEDIATED_VERIFIED)


def test_expired_approval_waits_until_the_expiry() -> None:
    state = approval_state(requestedAt="2026-11-29T06:00:00Z", decidedAt="2026-12-02T06:00:00Z", decision="expired")
    (wait,) = points_by_name(state, Outcome.APPROVAL_EXPIRED)[metrics.APPROVAL_WAIT]
    assert wait.value == 72 * 3600


def test_an_ingestion_that_failed_on_the_key_counts_as_a_denial_from_ingestion() -> None:
    state = {**remediated(False), "ingestion": {"jobId": "J1", "status": "FAILED", "kmsFailure": True}}
    (denied,) = points_by_name(state, Outcome.FAILED)[metrics.KMS_ACCESS_DENIED]
    assert (denied.value, denied.dimensions) == (1, (("Source", "Ingestion"),))


def test_denials_the_confirmation_saw_in_cloudtrail_are_left_to_the_denials_function() -> None:
    # The denials function counts every CloudTrail access error on cmk-guard keys: counting them here too would
    # count the same refused call twice.
    state = remediated(True)
    state["verification"]["accessDenied"] = 3
    assert metrics.KMS_ACCESS_DENIED not in points_by_name(state, Outcome.REMEDIATED_VERIFIED)


def test_remediations_carry_the_outcome_as_their_only_dimension() -> None:
    for outcome in Outcome:
        (point,) = points_by_name({"check": {"verdict": "SKIPPED"}}, outcome)[metrics.REMEDIATIONS]
        assert point.dimensions == (("Outcome", outcome.value),)


def test_approval_requested_point() -> None:
    point = approval_requested_point()
    assert (point.name, point.value, point.unit, point.dimensions) == ("ApprovalsRequested", 1, "Count", ())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("MeanTimeToRemediate", 1, "Seconds"), "not a cmk-guard metric"),
        (("TimeToRemediateSeconds", 1, "Milliseconds"), "measured in Seconds"),
        (("Remediations", 1, "Count"), "has the dimensions"),
        (("Remediations", 1, "Count", (("Outcome", "FIXED"),)), "not a Outcome"),
        (("NonCompliantDetected", 1, "Count", (("KnowledgeBaseId", "KB12345678"),)), "has the dimensions"),
        (("KmsAccessDenied", 1, "Count", (("Source", "Email"),)), "not a Source"),
    ],
)
def test_only_catalogued_metrics_with_their_unit_and_bounded_dimensions_exist(args: tuple, message: str) -> None:
    with pytest.raises((KeyError, ValueError), match=message):
        MetricPoint(*args)


def test_catalogue_dimensions_are_few_and_bounded() -> None:
    for spec in metrics.CATALOGUE.values():
        assert len(spec.dimensions) <= 1, spec.name
        for dimension in spec.dimensions:
            assert 0 < len(spec.allowed_values(dimension)) <= 10, (spec.name, dimension)
        assert metrics.SERVICE_DIMENSION not in spec.dimensions  # Powertools adds it
