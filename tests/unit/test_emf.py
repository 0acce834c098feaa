"""The EMF reader follows the specification: what Powertools prints parses, broken records are refused."""

from __future__ import annotations

import json

import pytest

from cmk_guard.core.report import MetricPoint
from cmk_guard.handlers._metrics import emit
from cmk_guard_local.emf import EmfError, parse_lines, parse_record

GOOD = {
    "_aws": {
        "Timestamp": 1795936027411,
        "CloudWatchMetrics": [
            {"Namespace": "CmkGuard", "Dimensions": [["Outcome", "service"]], "Metrics": [{"Name": "Remediations", "Unit": "Count"}]}
        ],
    },
    "Outcome": "FAILED",
    "service": "cmk-guard",
    "Remediations": [1.0],
}


def broken(**changes: object) -> str:
    document = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        node = document
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(leaf) if leaf.isdigit() else leaf] = value
    return json.dumps(document)


def test_what_powertools_prints_parses(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cmk-guard")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CmkGuard")
    emit([MetricPoint("TimeToRemediateSeconds", 42.5, "Seconds"),
          MetricPoint("KmsAccessDenied", 1, "Count", (("Source", "Ingestion"),))])
    data = parse_lines(capsys.readouterr().out.splitlines())
    assert [(d.namespace, d.name, d.unit, d.dimension_map, d.values) for d in data] == [
        ("CmkGuard", "TimeToRemediateSeconds", "Seconds", {"service": "cmk-guard"}, (42.5,)),
        ("CmkGuard", "KmsAccessDenied", "Count", {"Source": "Ingestion", "service": "cmk-guard"}, (1.0,)),
    ]


def test_one_datum_per_dimension_set() -> None:
    document = json.loads(json.dumps(GOOD))
    document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = [["Outcome", "service"], ["service"], []]
    data = parse_record(json.dumps(document))
    assert data is not None
    assert [d.dimension_map for d in data] == [{"Outcome": "FAILED", "service": "cmk-guard"}, {"service": "cmk-guard"}, {}]


@pytest.mark.parametrize("line", ["plain text", '{"level": "INFO", "message": "recorded"}', "[1, 2]", ""])
def test_lines_that_are_not_emf_are_skipped(line: str) -> None:
    assert parse_record(line) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (broken(_aws__Timestamp=1795936027.4), "Timestamp"),
        (broken(_aws__Timestamp="1795936027411"), "Timestamp"),
        (broken(_aws__CloudWatchMetrics={}), "CloudWatchMetrics must be a list"),
        (broken(_aws__CloudWatchMetrics__0__Namespace=""), "Namespace"),
        (broken(_aws__CloudWatchMetrics__0__Dimensions=["Outcome"]), "Dimensions\\[0\\]"),
        (broken(Outcome=7), "dimension 'Outcome'"),
        (broken(service=None), "dimension 'service'"),
        (broken(Remediations="1"), "metric 'Remediations'"),
        (broken(Remediations=[]), "metric 'Remediations'"),
        (broken(Remediations=list(range(101))), "metric 'Remediations'"),
        (broken(Remediations=True), "metric 'Remediations'"),
        (broken(_aws__CloudWatchMetrics__0__Metrics__0__Unit="Minutes"), "not a CloudWatch unit"),
        (broken(_aws__CloudWatchMetrics__0__Metrics=[]), "non-empty list"),
        (broken(_aws__CloudWatchMetrics__0__Metrics__0__StorageResolution=5), "StorageResolution"),
    ],
)
def test_records_that_break_the_specification_are_refused(line: str, message: str) -> None:
    with pytest.raises(EmfError, match=message):
        parse_record(line)
