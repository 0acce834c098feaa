"""``cmk-guard report``: compliance ratio, MTTR percentiles and outcome counts, from the ledger and the metrics.

The figures come from two places an operator can read: the ledger's outcome records (DynamoDB) and the metrics the
functions emitted (EMF records in their CloudWatch Logs, parsed against the EMF specification). On a deployed
stack the dashboard shows the same metrics; here they are read from an emulated account:

- ``--emulated`` builds one, deploys template.yaml on it and runs a demo-like set of data sources through the real
  workflow (``showcase``) before reporting;
- ``--input PATH`` re-reads a report written earlier with ``--json``.

Percentiles are nearest-rank over the samples (the smallest sample with at least p% of samples at or below it).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmk_guard.core import metrics
from cmk_guard.core.models import Outcome
from cmk_guard_local.emf import Datum, parse_lines

if TYPE_CHECKING:
    from cmk_guard_local.stack import EmulatedStack

# A data source's latest outcome says whether it is on a customer-managed key. SKIPPED ones were not evaluated
# (exempt, managed knowledge base, gone, another remediation in progress); UNKNOWN counts against, never for.
COMPLIANT_OUTCOMES = frozenset({Outcome.ALREADY_COMPLIANT, Outcome.REMEDIATED_VERIFIED, Outcome.REMEDIATED_UNVERIFIED})
NOT_EVALUATED_OUTCOMES = frozenset({Outcome.SKIPPED})


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; ``None`` without samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Distribution:
    samples: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.samples)

    def summary(self) -> dict[str, float | int | None]:
        return {"count": self.count, "p50": percentile(self.samples, 50), "p90": percentile(self.samples, 90),
                "max": max(self.samples) if self.samples else None}


@dataclass
class Report:
    account_id: str
    region: str
    compliance: dict[str, Any]
    outcomes: dict[str, int]  # from the ledger
    metric_outcomes: dict[str, int]  # Sum of Remediations by Outcome
    time_to_remediate: Distribution
    time_to_verify: Distribution
    approval_wait: Distribution
    kms_access_denied: dict[str, int]
    data_points: int

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("time_to_remediate", "time_to_verify", "approval_wait"):
            out[name] = {**getattr(self, name).summary(), "samples": sorted(getattr(self, name).samples)}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        try:
            values = {k: data[k] for k in ("account_id", "region", "compliance", "outcomes", "metric_outcomes",
                                            "kms_access_denied", "data_points")}
            for name in ("time_to_remediate", "time_to_verify", "approval_wait"):
                values[name] = Distribution([float(v) for v in data[name]["samples"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a cmk-guard report export: {exc!r}") from None
        return cls(**values)


def _latest_per_data_source(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: str(r.get("recordedAt", ""))):
        target = record.get("target") or {}
        if target.get("knowledgeBaseId") and target.get("dataSourceId"):
            latest[(target["knowledgeBaseId"], target["dataSourceId"])] = record
    return latest


def compliance(records: list[dict[str, Any]], data: list[Datum]) -> dict[str, Any]:
    """The sweep's latest ``ComplianceRatio`` when there is one; otherwise the ledger's view (latest outcome of
    each data source cmk-guard evaluated)."""
    ratios = sorted((d for d in data if d.name == metrics.COMPLIANCE_RATIO), key=lambda d: d.timestamp_ms)
    if ratios:
        return {"ratio": ratios[-1].values[-1], "compliant": None, "evaluated": None,
                "source": "ComplianceRatio metric (latest sweep)"}
    evaluated = [r for r in _latest_per_data_source(records).values() if r.get("outcome") not in NOT_EVALUATED_OUTCOMES]
    compliant = sum(1 for r in evaluated if r.get("outcome") in COMPLIANT_OUTCOMES)
    return {"ratio": compliant / len(evaluated) if evaluated else None, "compliant": compliant,
            "evaluated": len(evaluated),
            "source": "ledger: latest outcome of each evaluated data source (no sweep yet)"}


def build_report(records: list[dict[str, Any]], data: list[Datum], *, account_id: str, region: str) -> Report:
    """Pure: the report from ledger outcome records and metric data (namespace ``CmkGuard`` only)."""
    ours = [d for d in data if d.namespace == metrics.NAMESPACE]

    def samples(name: str) -> list[float]:
        return [v for d in ours if d.name == name for v in d.values]

    metric_outcomes: Counter[str] = Counter()
    denied: Counter[str] = Counter()
    for datum in ours:
        if datum.name == metrics.REMEDIATIONS:
            metric_outcomes[datum.dimension_map.get("Outcome", "?")] += int(sum(datum.values))
        elif datum.name == metrics.KMS_ACCESS_DENIED:
            denied[datum.dimension_map.get("Source", "?")] += int(sum(datum.values))
    return Report(
        account_id=account_id,
        region=region,
        compliance=compliance(records, ours),
        outcomes=dict(Counter(str(r.get("outcome")) for r in records)),
        metric_outcomes=dict(metric_outcomes),
        time_to_remediate=Distribution(samples(metrics.TIME_TO_REMEDIATE)),
        time_to_verify=Distribution(samples(metrics.TIME_TO_VERIFY)),
        approval_wait=Distribution(samples(metrics.APPROVAL_WAIT)),
        kms_access_denied=dict(denied),
        data_points=len(ours),
    )


# -- reading an (emulated) account ------------------------------------------------------------------------------
def read_log_lines(stack: EmulatedStack) -> list[str]:
    """Every line in the functions' log groups, read through the CloudWatch Logs API."""
    logs = stack.client("logs")
    lines: list[str] = []
    groups = sorted(set(stack.logs.log_groups.values())) if stack.logs else []
    for group in groups:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
            lines.extend(event["message"] for event in page.get("events", []))
    return lines


def collect(stack: EmulatedStack) -> Report:
    """The report of an emulated stack: its ledger (DynamoDB scan) and its functions' EMF records."""
    return build_report(stack.outcomes(), parse_lines(read_log_lines(stack)),
                        account_id=stack.account_id, region=stack.region)


def emulated_report() -> Report:
    """Build an emulated account, run the showcase through the real workflow, and report on it."""
    from cmk_guard_local.showcase import emulated_showcase

    with emulated_showcase() as (_, stack):
        return collect(stack)


# -- output -----------------------------------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _triple(distribution: Distribution) -> str:
    s = distribution.summary()
    return " / ".join(duration(s[k]) for k in ("p50", "p90", "max"))  # type: ignore[arg-type]


def render_table(report: Report) -> str:
    c = report.compliance
    if c["ratio"] is None:
        ratio = "-"
    elif c["evaluated"] is not None:
        ratio = f"{c['ratio']:.1%} ({c['compliant']} of {c['evaluated']} data sources)"
    else:
        ratio = f"{c['ratio']:.1%}"
    denied = report.kms_access_denied
    rows = [
        ("Compliance ratio", ratio, c["source"]),
        ("MTTR p50 / p90 / max", _triple(report.time_to_remediate),
         f"{report.time_to_remediate.count} keys applied; CloudTrail eventTime -> key applied"),
        ("Time to verify p50 / p90 / max", _triple(report.time_to_verify),
         f"{report.time_to_verify.count} verified; CloudTrail eventTime -> KMS use found"),
        ("Approval wait p50 / p90 / max", _triple(report.approval_wait), f"{report.approval_wait.count} decided"),
        ("KMS access denied", str(sum(denied.values())),
         ", ".join(f"{k} {v}" for k, v in sorted(denied.items())) or "none"),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [f"cmk-guard report: account {report.account_id}, {report.region} "
             f"({sum(report.outcomes.values())} outcomes in the ledger, {report.data_points} metric data points)", ""]
    lines += [f"  {label:<{width}}  {value:<{value_width}}  {note}" for label, value, note in rows]
    lines += ["", f"  {'Outcome':<22} {'ledger':>6} {'metric':>6}"]
    for outcome in Outcome:
        ledger, metric = report.outcomes.get(outcome.value, 0), report.metric_outcomes.get(outcome.value, 0)
        if ledger or metric:
            lines.append(f"  {outcome.value:<22} {ledger:>6} {metric:>6}{'' if ledger == metric else '  (differ)'}")
    return "\n".join(lines) + "\n"


# -- the command ------------------------------------------------------------------------------------------------
def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="compliance ratio, MTTR percentiles and outcome counts",
        description="Print compliance ratio, MTTR percentiles and outcome counts from the ledger and the metrics.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--emulated", action="store_true",
                        help="build an emulated account and run a demo-like set of data sources through the workflow")
    source.add_argument("--input", type=Path, metavar="PATH", help="a report written earlier with --json")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    parser.add_argument("--png", type=Path, metavar="PATH", help="also draw MTTR distribution and outcomes as a PNG")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.input is not None:
        try:
            report = Report.from_json(json.loads(args.input.read_text()))
        except (OSError, ValueError) as exc:
            print(f"cmk-guard report: cannot read {args.input}: {exc}", file=sys.stderr)
            return 2
    else:
        print("Building an emulated account and running data sources through the workflow...", file=sys.stderr)
        report = emulated_report()
    sys.stdout.write(render_table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.png is not None:
        from cmk_guard_local.report_chart import draw

        draw(report, args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    return 0
