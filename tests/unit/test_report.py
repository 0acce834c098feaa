"""The local report: percentiles, the compliance ratio and outcome counts from ledger records and metric data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmk_guard_local.cli import main
from cmk_guard_local.emf import Datum
from cmk_guard_local.report import Report, build_report, percentile, render_table

SERVICE = (("service", "cmk-guard"),)


def record(ds: str, outcome: str, at: str = "2026-11-29T06:00:00+00:00") -> dict:
    return {"outcome": outcome, "recordedAt": at, "target": {"knowledgeBaseId": "KB12345678", "dataSourceId": ds}}


def datum(name: str, value: float, dimensions: tuple = SERVICE, unit: str = "Count", at: int = 0) -> Datum:
    return Datum("CmkGuard", name, unit, tuple(sorted(dimensions)), (value,), at)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7.0], 90, 7.0),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.0),
        ([float(v) for v in range(1, 11)], 90, 9.0),
        ([float(v) for v in range(1, 11)], 91, 10.0),
        ([float(v) for v in range(1, 11)], 100, 10.0),
    ],
)
def test_nearest_rank_percentile(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == expected


def test_compliance_from_the_latest_outcome_of_each_evaluated_data_source() -> None:
    records = [
        record("DS1", "NOTIFIED", "2026-11-29T06:00:00+00:00"),
        record("DS1", "REMEDIATED_VERIFIED", "2026-11-29T07:00:00+00:00"),  # fixed later: counts as compliant
        record("DS2", "ALREADY_COMPLIANT"),
        record("DS3", "UNKNOWN"),  # could not be read: never compliant
        record("DS4", "SKIPPED"),  # not evaluated
        record("DS5", "FAILED"),
        {"outcome": "FAILED", "recordedAt": "2026-11-29T06:00:00+00:00"},  # a malformed event: no data source
    ]
    report = build_report(records, [], account_id="123456789012", region="us-east-1")
    assert (report.compliance["compliant"], report.compliance["evaluated"]) == (2, 4)
    assert report.compliance["ratio"] == 0.5
    assert report.outcomes == {"NOTIFIED": 1, "REMEDIATED_VERIFIED": 1, "ALREADY_COMPLIANT": 1, "UNKNOWN": 1,
                               "SKIPPED": 1, "FAILED": 2}


def test_the_sweeps_compliance_ratio_wins_over_the_ledger() -> None:
    data = [datum("ComplianceRatio", 0.4, unit="None", at=1), datum("ComplianceRatio", 0.9, unit="None", at=2)]
    report = build_report([record("DS1", "FAILED")], data, account_id="1", region="r")
    assert report.compliance["ratio"] == 0.9 and "ComplianceRatio" in report.compliance["source"]


def test_metrics_feed_mttr_outcome_sums_and_denials() -> None:
    data = [
        datum("TimeToRemediateSeconds", 30, unit="Seconds"),
        datum("TimeToRemediateSeconds", 90, unit="Seconds"),
        datum("TimeToRemediateSeconds", 600, unit="Seconds"),
        datum("Remediations", 1, (("Outcome", "FAILED"), *SERVICE)),
        datum("Remediations", 1, (("Outcome", "FAILED"), *SERVICE)),
        datum("KmsAccessDenied", 1, (("Source", "CloudTrail"), *SERVICE)),
        Datum("Other", "TimeToRemediateSeconds", "Seconds", SERVICE, (5000.0,), 0),  # another namespace: ignored
    ]
    report = build_report([], data, account_id="1", region="r")
    assert report.time_to_remediate.summary() == {"count": 3, "p50": 90, "p90": 600, "max": 600}
    assert report.metric_outcomes == {"FAILED": 2}
    assert report.kms_access_denied == {"CloudTrail": 1}
    table = render_table(report)
    assert "1 min 30 s / 10 min 00 s / 10 min 00 s" in table
    assert "FAILED                      0      2  (differ)" in table


def test_cli_rereads_an_export_and_writes_json_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = build_report(
        [record("DS1", "REMEDIATED_VERIFIED"), record("DS2", "FAILED")],
        [datum("TimeToRemediateSeconds", 75, unit="Seconds"), datum("TimeToRemediateSeconds", 140, unit="Seconds")],
        account_id="123456789012", region="eu-west-1",
    )
    export = tmp_path / "in.json"
    export.write_text(json.dumps(report.to_json()))
    out_json, out_png = tmp_path / "out.json", tmp_path / "out.png"
    assert main(["report", "--input", str(export), "--json", str(out_json), "--png", str(out_png)]) == 0
    printed = capsys.readouterr().out
    assert "50.0% (1 of 2 data sources)" in printed and "1 min 15 s / 2 min 20 s / 2 min 20 s" in printed
    assert Report.from_json(json.loads(out_json.read_text())).to_json() == report.to_json()
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 10_000


def test_cli_refuses_an_export_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "in.json"
    export.write_text('{"outcomes": {}}')
    assert main(["report", "--input", str(export)]) == 2
    assert "not a cmk-guard report export" in capsys.readouterr().err
