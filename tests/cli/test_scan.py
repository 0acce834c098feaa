"""``cmk-guard scan``: the installed command on the emulated account, its formats, exit codes and read-only calls."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from cmk_guard_local import scan
from cmk_guard_local.cli import main, parser as build_parser
from cmk_guard_local.mixed_estate import build_mixed_estate
from cmk_guard_local.scenario import Estate

COMMAND = Path(sys.executable).parent / "cmk-guard"
READS = ("List", "Get", "Describe")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_installed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COMMAND), *args], capture_output=True, text=True, timeout=120, check=False)


def test_the_installed_command_scans_the_emulated_account() -> None:
    # WHEN the entry point pyproject.toml declares runs in a fresh process
    result = run_installed("scan", "--emulated", "--format", "json")
    # THEN it reports every verdict of the mixed estate, and the ratio the sweep would report
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["account"] == "123456789012" and report["regions"] == ["us-east-1"]
    assert report["summary"]["counts"] == {"NON_COMPLIANT": 5, "UNKNOWN": 4, "COMPLIANT": 4, "SKIPPED": 3}
    assert report["summary"]["complianceRatio"] == pytest.approx(4 / 13)
    assert report["summary"]["knowledgeBases"] == 9 and report["summary"]["dataSources"] == 15
    unknown = [f for f in report["findings"] if f["verdict"] == "UNKNOWN"]
    assert len(unknown) == 4 and all("AccessDenied" in f["detail"] for f in unknown), "each with its error"
    assert result.stderr == "", "no progress bar when stderr is not a terminal"


def test_fail_on_noncompliant_sets_the_exit_code() -> None:
    result = run_installed("scan", "--emulated", "--format", "csv", "--fail-on-noncompliant")
    assert result.returncode == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 16 and tuple(rows[0]) == scan.CSV_FIELDS


def test_table_shows_the_columns_the_errors_and_the_ratio_and_draws_progress() -> None:
    out, err = io.StringIO(), Terminal()
    args = build_parser().parse_args(["scan", "--emulated"])
    assert scan.run(args, stdout=out, stderr=err) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["KNOWLEDGE", "BASE", "DATA", "SOURCE", "TYPE", "VERDICT", "REASON", "KEY"]
    policies = next(line for line in lines if line.startswith("hr-handbook") and "policies" in line)
    assert policies.split()[-4:] == ["S3", "NON_COMPLIANT", "AWS_OWNED_KEY", "AWS-owned"]
    contracts = next(line for line in lines if "contracts (" in line)
    assert contracts.split()[-1].startswith("key/"), "keys of the scanned account and region are shortened"
    assert "Could not be read:" in lines
    assert sum(1 for line in lines if "AccessDeniedException" in line) == 4
    assert "  Compliance ratio: 30.8% (4 compliant of 13 evaluated;" in out.getvalue()
    assert "\r" in err.getvalue() and "9/9 knowledge bases" in err.getvalue()


def test_scan_is_read_only_and_pages_every_list(account) -> None:
    estate = build_mixed_estate(account)
    before = len(account.calls)
    result = scan.collect(boto3.session.Session(), [account.region], page_size=2)
    calls = account.calls[before:]
    assert calls and all(c.operation.startswith(READS) for c in calls), {c.operation for c in calls}
    assert sum(1 for c in calls if c.operation == "ListKnowledgeBases") == 5
    assert len(result.findings) == len(estate.expected)


def test_several_regions_at_once(account, estate) -> None:
    role = estate.kb_role()
    Estate("eu-west-1", account.account_id).knowledge_base("paris", role)
    eu = boto3.client("bedrock-agent", region_name="eu-west-1").list_knowledge_bases()["knowledgeBaseSummaries"][0]
    boto3.client("bedrock-agent", region_name="eu-west-1").create_data_source(
        knowledgeBaseId=eu["knowledgeBaseId"], name="docs",
        dataSourceConfiguration={"type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::acme-kb-documents"}},
    )
    kb = estate.knowledge_base("virginia", role)
    estate.data_source(kb["knowledgeBaseId"], "docs", kms_key_arn=estate.customer_key([role]))
    result = scan.collect(boto3.session.Session(), ["us-east-1", "eu-west-1"])
    assert [(f.region, f.verdict.value) for f in result.findings] == [("eu-west-1", "NON_COMPLIANT"), ("us-east-1", "COMPLIANT")]
    table = scan.render_table(result)
    assert table.splitlines()[0].startswith("REGION")
    assert "us-east-1, eu-west-1: 2 data sources in 2 knowledge bases" in table


def test_without_a_region_it_says_so(monkeypatch, tmp_path) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    err = io.StringIO()
    assert scan.run(build_parser().parse_args(["scan"]), stdout=io.StringIO(), stderr=err) == 2
    assert "no region" in err.getvalue()


def test_an_unknown_profile_is_a_clear_error(monkeypatch, tmp_path) -> None:
    (tmp_path / "config").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    err = io.StringIO()
    args = build_parser().parse_args(["scan", "--profile", "nobody", "--region", "eu-west-1"])
    assert scan.run(args, stdout=io.StringIO(), stderr=err) == 2
    assert "ProfileNotFound" in err.getvalue()


@pytest.mark.parametrize("argv", [["scan", "--fix"], ["scan", "--emulated", "--profile", "p"], ["scan", "--format", "xml"]])
def test_refused_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
