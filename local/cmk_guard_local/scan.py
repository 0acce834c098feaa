"""``cmk-guard scan``: a read-only audit of every Bedrock knowledge base data source, in one or more regions.

Each verdict is decided by the functions the deployed check step and sweep use (``evaluate_page`` over
``assess_data_source``); only List, Get and Describe calls are made. A read that fails is reported as ``UNKNOWN``
with its error, never as compliant. There is no ``--fix``: fixing goes through the deployed workflow, where it is
gated, audited and measured.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from cmk_guard.adapters.aws import SDK_CONFIG
from cmk_guard.adapters.bedrock import BedrockAgent
from cmk_guard.adapters.kms import Kms
from cmk_guard.core.models import Mode, Reason, Verdict
from cmk_guard.core.sweep import Cursor, SweepFinding
from cmk_guard.core.verdict import unknown
from cmk_guard.steps.sweep import evaluate_page
from cmk_guard_local.progress import ProgressBar

if TYPE_CHECKING:
    import boto3

PAGE_SIZE = 100
VERDICTS = (Verdict.NON_COMPLIANT, Verdict.UNKNOWN, Verdict.COMPLIANT, Verdict.SKIPPED)
CSV_FIELDS = (
    "region", "knowledgeBaseId", "knowledgeBaseName", "dataSourceId", "dataSourceName", "dataSourceType",
    "verdict", "reason", "keyArn", "detail",
)
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


@dataclass
class ScanResult:
    account: str | None
    regions: list[str]
    findings: list[SweepFinding] = field(default_factory=list)
    knowledge_bases: int = 0

    def counts(self) -> Counter[str]:
        return Counter(f.verdict.value for f in self.findings)

    @property
    def evaluated(self) -> int:
        counts = self.counts()
        return counts["COMPLIANT"] + counts["NON_COMPLIANT"] + counts["UNKNOWN"]

    @property
    def compliance_ratio(self) -> float | None:
        """Compliant over evaluated (``SKIPPED`` excluded, ``UNKNOWN`` not compliant), as the sweep reports it."""
        return self.counts()["COMPLIANT"] / self.evaluated if self.evaluated else None


# -- collecting ------------------------------------------------------------------------------------------------
def _region_unreadable(region: str, error: Exception) -> SweepFinding:
    evaluation = unknown(f"cannot list the knowledge bases in {region}: {error}")
    return SweepFinding(
        region=region,
        knowledge_base_id="*",
        verdict=evaluation.verdict,
        reason=evaluation.reason,
        detail=evaluation.detail,
    )


def collect(
    session: boto3.session.Session,
    regions: list[str],
    *,
    page_size: int = PAGE_SIZE,
    progress: ProgressBar | None = None,
) -> ScanResult:
    """Every knowledge base and data source of each region, evaluated. Reads only."""
    result = ScanResult(account=None, regions=list(regions))
    kms_by_region: dict[str, Kms] = {}

    def kms(region: str) -> Kms:
        if region not in kms_by_region:
            kms_by_region[region] = Kms(session.client("kms", region_name=region, config=SDK_CONFIG))
        return kms_by_region[region]

    for region in regions:
        bedrock = BedrockAgent(session.client("bedrock-agent", region_name=region, config=SDK_CONFIG))
        knowledge_bases: list[str] = []
        token: str | None = None
        try:
            while True:
                ids, token = bedrock.list_knowledge_bases(token, page_size)
                knowledge_bases.extend(ids)
                if not token:
                    break
        except Exception as exc:  # noqa: BLE001 - any failed read is reported, never hidden
            result.findings.append(_region_unreadable(region, exc))
        if progress:
            progress.start(len(knowledge_bases), region)
        for knowledge_base_id in knowledge_bases:
            cursor: Cursor | None = Cursor()
            while cursor is not None:
                page = evaluate_page(
                    bedrock, kms, region, knowledge_base_id, cursor, page_size, Mode.AUTO, strict=False
                )
                result.findings.extend(page.findings)
                cursor = page.cursor
            result.knowledge_bases += 1
            if progress:
                progress.advance()
        if progress:
            progress.done()
    result.findings.sort(key=_order)
    return result


def _order(f: SweepFinding) -> tuple[str, str, str, str]:
    return f.region, (f.knowledge_base_name or "").lower(), f.knowledge_base_id, (f.data_source_name or "").lower()


# -- rendering -------------------------------------------------------------------------------------------------
def _named(name: str | None, identifier: str | None) -> str:
    if identifier is None:
        return "(data sources not listed)"
    return f"{name} ({identifier})" if name else identifier


def _key(finding: SweepFinding, account: str | None) -> str:
    """The key the data source names: ``key/<id>`` when it is in the scanned account and region, else its ARN."""
    if finding.reason is Reason.AWS_OWNED_KEY:
        return "AWS-owned"
    if not finding.key_arn:
        return "-"
    parts = finding.key_arn.split(":")
    local = len(parts) == 6 and parts[3] == finding.region and parts[4] == account
    return parts[5] if local else finding.key_arn


def _rows(result: ScanResult) -> tuple[list[str], list[list[str]]]:
    header = ["KNOWLEDGE BASE", "DATA SOURCE", "TYPE", "VERDICT", "REASON", "KEY"]
    rows = [
        [
            _named(f.knowledge_base_name, f.knowledge_base_id),
            _named(f.data_source_name, f.data_source_id),
            f.data_source_type or "-",
            f.verdict.value,
            f.reason.value,
            _key(f, result.account),
        ]
        for f in result.findings
    ]
    if len(result.regions) > 1:
        header.insert(0, "REGION")
        for row, finding in zip(rows, result.findings, strict=True):
            row.insert(0, finding.region)
    return header, rows


def summary_lines(result: ScanResult) -> list[str]:
    counts = result.counts()
    data_sources = sum(1 for f in result.findings if f.data_source_id)
    unlisted = sum(1 for f in result.findings if not f.data_source_id)
    where = ", ".join(result.regions)
    lines = [
        f"Account {result.account or 'unknown'}, {where}: {data_sources} data sources in {result.knowledge_bases} "
        f"knowledge bases" + (f", {unlisted} could not be listed" if unlisted else ""),
        "  " + "  ".join(f"{v.value} {counts[v.value]}" for v in VERDICTS),
    ]
    ratio = result.compliance_ratio
    if ratio is None:
        lines.append("  Compliance ratio: n/a (nothing evaluated)")
    else:
        lines.append(
            f"  Compliance ratio: {ratio:.1%} ({counts['COMPLIANT']} compliant of {result.evaluated} evaluated; "
            "UNKNOWN counts as not compliant, SKIPPED is not evaluated)"
        )
    return lines


def render_table(result: ScanResult) -> str:
    header, rows = _rows(result)
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [header, *rows]]
    out.insert(1, "  ".join("-" * width for width in widths))
    errors = [f for f in result.findings if f.verdict is Verdict.UNKNOWN]
    if errors:
        out += ["", "Could not be read:"]
        out += [
            f"  {_named(f.knowledge_base_name, f.knowledge_base_id)} / {_named(f.data_source_name, f.data_source_id)}: "
            f"{f.detail}"
            for f in errors
        ]
    return "\n".join([*out, "", *summary_lines(result)]) + "\n"


def _finding_record(finding: SweepFinding) -> dict[str, Any]:
    record = finding.to_state()
    record.pop("mode", None)  # the stack's default mode is not known to the CLI
    return record


def render_json(result: ScanResult) -> str:
    counts = result.counts()
    document = {
        "account": result.account,
        "regions": result.regions,
        "summary": {
            "knowledgeBases": result.knowledge_bases,
            "dataSources": sum(1 for f in result.findings if f.data_source_id),
            "counts": {v.value: counts[v.value] for v in VERDICTS},
            "evaluated": result.evaluated,
            "complianceRatio": result.compliance_ratio,
        },
        "findings": [_finding_record(f) for f in result.findings],
    }
    return json.dumps(document, indent=2) + "\n"


def render_csv(result: ScanResult) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for finding in result.findings:
        writer.writerow({k: _finding_record(finding).get(k, "") for k in CSV_FIELDS})
    return buffer.getvalue()


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}


def exit_code(result: ScanResult, fail_on_noncompliant: bool) -> int:
    """Non-zero only when asked, and then for anything not proven compliant (NON_COMPLIANT or UNKNOWN)."""
    if not fail_on_noncompliant:
        return EXIT_OK
    counts = result.counts()
    return EXIT_FINDINGS if counts["NON_COMPLIANT"] or counts["UNKNOWN"] else EXIT_OK


# -- the command -----------------------------------------------------------------------------------------------
def register(subparsers: Any) -> None:
    """Add ``scan`` to the ``cmk-guard`` command's subparsers."""
    parser = subparsers.add_parser(
        "scan",
        help="read-only audit: the verdict of every knowledge base data source",
        description="Evaluate every Bedrock knowledge base data source (read-only) and report which are not on a "
        "usable customer-managed KMS key. Uses the standard AWS credential chain, or an emulated account.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--profile", help="AWS profile of the credential chain (default: the chain's own choice)")
    source.add_argument("--emulated", action="store_true", help="scan an emulated account with a mixed estate")
    parser.add_argument(
        "--region", action="append", dest="regions", metavar="REGION",
        help="region to scan; repeat (or comma-separate) for several (default: the profile's region)",
    )
    parser.add_argument("--format", choices=sorted(RENDERERS), default="table", help="output format (default: table)")
    parser.add_argument(
        "--fail-on-noncompliant", action="store_true",
        help="exit 1 when any data source is NON_COMPLIANT or UNKNOWN (for pipelines)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(handler=run)


def _regions(values: list[str] | None) -> list[str]:
    return [r.strip() for value in values or [] for r in value.split(",") if r.strip()]


def _account(session: boto3.session.Session, region: str) -> str:
    return str(session.client("sts", region_name=region, config=SDK_CONFIG).get_caller_identity()["Account"])


def _scan(session: boto3.session.Session, regions: list[str], progress: ProgressBar) -> ScanResult:
    account = _account(session, regions[0])
    result = collect(session, regions, progress=progress)
    result.account = account
    return result


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    progress = ProgressBar(stderr, "knowledge bases", enabled=False if args.no_progress else None)
    regions = _regions(args.regions)
    try:
        if args.emulated:
            result = _scan_emulated(regions, progress)
        else:
            import boto3

            session = boto3.session.Session(profile_name=args.profile)
            regions = regions or ([session.region_name] if session.region_name else [])
            if not regions:
                stderr.write("cmk-guard scan: no region: pass --region or set one in the profile\n")
                return EXIT_USAGE
            result = _scan(session, regions, progress)
    except Exception as exc:  # noqa: BLE001 - no credentials, unknown profile: say so, exit as a usage error
        progress.done()
        stderr.write(f"cmk-guard scan: cannot start: {type(exc).__name__}: {exc}\n")
        return EXIT_USAGE
    stdout.write(RENDERERS[args.format](result))
    return exit_code(result, args.fail_on_noncompliant)


def _scan_emulated(regions: list[str], progress: ProgressBar) -> ScanResult:
    """Build the mixed estate on an emulated account, then scan it exactly as a real one (through boto3)."""
    for name, value in (("AWS_ACCESS_KEY_ID", "emulated"), ("AWS_SECRET_ACCESS_KEY", "emulated"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)  # the emulated account ignores profiles; a missing one must not stop it
    from cmk_guard_local.emulator import EmulatedAccount
    from cmk_guard_local.mixed_estate import build_mixed_estate

    import boto3

    with EmulatedAccount() as account:
        build_mixed_estate(account)
        return _scan(boto3.session.Session(), regions or [account.region], progress)
