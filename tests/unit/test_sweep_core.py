"""The sweep's arithmetic: counts, the compliance ratio, folding page results, ids, and the notify-once rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from cmk_guard.core.events import SWEEP_ID_PATTERN, sweep_event_id
from cmk_guard.core.models import Mode, Reason, Verdict
from cmk_guard.core.sweep import (
    MAX_LISTED_FAILURES,
    KnowledgeBaseResult,
    Pending,
    SweepCounts,
    SweepProgress,
    add_results,
    already_notified,
    context_from_execution,
    execution_arn_for,
    metric_points,
    sweep_id_for,
)

ARN = "arn:aws:states:eu-west-1:111122223333:execution:cmk-guard-sweep:3f0c3a2e-6d7b-4b8e-9a61-2f1d9c0b7e55"


def test_ratio_is_compliant_over_evaluated_with_unknown_not_compliant_and_skipped_left_out() -> None:
    counts = SweepCounts(compliant=6, non_compliant=1, unknown=1, skipped=40)
    assert counts.evaluated == 8
    assert counts.compliance_ratio == pytest.approx(0.75)
    assert SweepCounts(skipped=3).compliance_ratio is None, "nothing evaluated: undefined, not 100 %"
    assert SweepCounts(unknown=2).compliance_ratio == 0.0, "what cannot be read never counts as compliant"


def test_counts_add_up_field_by_field() -> None:
    total = SweepCounts(compliant=1, started=2) + SweepCounts(compliant=3, unknown=1, knowledge_bases=1)
    assert (total.compliant, total.unknown, total.started, total.knowledge_bases) == (4, 1, 2, 1)
    assert SweepCounts().with_verdict(Verdict.NON_COMPLIANT).non_compliant == 1


def test_folding_a_page_counts_failed_evaluations_as_one_unknown_and_names_them() -> None:
    results = [
        KnowledgeBaseResult(knowledge_base_id="KB00000001", counts=SweepCounts(compliant=2)),
        KnowledgeBaseResult(knowledge_base_id="KB00000002", counts=SweepCounts(compliant=1), error={"Error": "X"}, stage="evaluate"),
        KnowledgeBaseResult(knowledge_base_id="KB00000003", counts=SweepCounts(non_compliant=1), error={"Error": "Y"}, stage="start"),
    ]
    folded = add_results(SweepProgress(totals=SweepCounts(compliant=10), results=results))
    totals = folded.totals
    assert (totals.compliant, totals.non_compliant, totals.unknown) == (13, 1, 1), "a start failure loses no verdict"
    assert (totals.knowledge_bases, totals.failed_knowledge_bases) == (3, 2)
    assert folded.failed == ["KB00000002", "KB00000003"] and folded.results == []


def test_the_list_of_failed_knowledge_bases_stays_bounded() -> None:
    results = [
        KnowledgeBaseResult(knowledge_base_id=f"KB{i:08d}", error={"Error": "X"}, stage="evaluate") for i in range(MAX_LISTED_FAILURES + 5)
    ]
    folded = add_results(SweepProgress(results=results))
    assert len(folded.failed) == MAX_LISTED_FAILURES
    assert folded.totals.failed_knowledge_bases == MAX_LISTED_FAILURES + 5


def test_sweep_id_is_the_execution_name_or_a_digest() -> None:
    assert sweep_id_for(ARN) == "3f0c3a2e-6d7b-4b8e-9a61-2f1d9c0b7e55"
    odd = "arn:aws:states:eu-west-1:111122223333:execution:cmk-guard-sweep:" + "manual.run." + "x" * 60
    digest = sweep_id_for(odd)
    assert re.fullmatch(SWEEP_ID_PATTERN, digest) and digest == sweep_id_for(odd) != sweep_id_for(odd + "y")
    context = context_from_execution(ARN)
    assert (context.account_id, context.region) == ("111122223333", "eu-west-1")
    with pytest.raises(ValueError, match="execution ARN"):
        context_from_execution("arn:aws:lambda:eu-west-1:111122223333:function:x")


def test_remediate_execution_names_fit_step_functions_rules() -> None:
    name = sweep_event_id("x" * 40, "ABCDEFGHIJ", "0123456789")
    assert len(name) <= 80 and re.fullmatch(r"[0-9A-Za-z_-]+", name)
    machine = "arn:aws:states:eu-west-1:111122223333:stateMachine:cmk-guard-remediate"
    assert execution_arn_for(machine, name) == f"arn:aws:states:eu-west-1:111122223333:execution:cmk-guard-remediate:{name}"


def _pending(mode: Mode = Mode.NOTIFY, reason: Reason = Reason.AWS_OWNED_KEY, key: str | None = None) -> Pending:
    return Pending(data_source_id="DS00000001", reason=reason, mode=mode, current_key_arn=key, observed_at=datetime.now(UTC))


def _outcome(outcome: str, reason: str = "AWS_OWNED_KEY", key: str | None = None) -> dict:
    check = {"reason": reason, **({"currentKeyArn": key} if key else {})}
    return {"outcome": outcome, "check": check}


@pytest.mark.parametrize(
    ("latest", "pending", "skip"),
    [
        (_outcome("NOTIFIED"), _pending(), True),
        (_outcome("NOTIFIED", "AWS_MANAGED_KEY", "k1"), _pending(reason=Reason.AWS_MANAGED_KEY, key="k1"), True),
        (_outcome("NOTIFIED", "AWS_MANAGED_KEY", "k1"), _pending(reason=Reason.AWS_MANAGED_KEY, key="k2"), False),
        (_outcome("NOTIFIED", "KEY_DISABLED"), _pending(), False),
        (_outcome("FAILED"), _pending(), False),
        (_outcome("NOTIFIED"), _pending(mode=Mode.AUTO), False),
        (None, _pending(), False),
    ],
)
def test_notify_mode_reports_the_same_finding_once(latest, pending, skip: bool) -> None:
    assert already_notified(latest, pending) is skip


def test_metrics_have_no_dimensions_and_no_ratio_without_evaluations() -> None:
    points = {p.name: p for p in metric_points(SweepCounts(compliant=3, non_compliant=1, skipped=2, started=1))}
    assert points["ComplianceRatio"].value == pytest.approx(0.75)
    assert (points["CompliantDataSources"].value, points["SkippedDataSources"].value) == (3, 2)
    assert points["SweepRemediationsStarted"].value == 1
    assert all(p.dimensions == () for p in points.values())
    assert "ComplianceRatio" not in {p.name for p in metric_points(SweepCounts(skipped=2))}
