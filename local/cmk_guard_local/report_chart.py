"""The report as a PNG: the MTTR distribution (with p50, p90 and max) beside the outcome counts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402

from cmk_guard.core.models import Outcome  # noqa: E402

if TYPE_CHECKING:
    from cmk_guard_local.report import Report

OUTCOME_COLOURS = {
    Outcome.REMEDIATED_VERIFIED: "#2e7d32",
    Outcome.ALREADY_COMPLIANT: "#66bb6a",
    Outcome.REMEDIATED_UNVERIFIED: "#f9a825",
    Outcome.NOTIFIED: "#fb8c00",
    Outcome.APPROVAL_REJECTED: "#8d6e63",
    Outcome.APPROVAL_EXPIRED: "#a1887f",
    Outcome.SKIPPED: "#9e9e9e",
    Outcome.UNKNOWN: "#7b1fa2",
    Outcome.FAILED: "#c62828",
}


def draw(report: Report, path: Path) -> None:
    from cmk_guard_local.report import duration

    figure, (mttr, outcomes) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    samples = sorted(report.time_to_remediate.samples)
    summary = report.time_to_remediate.summary()
    if samples:
        minutes = [s / 60 for s in samples]
        top = max(minutes)
        bins = max(4, min(20, len(samples)))
        mttr.hist(minutes, bins=bins, range=(0, top * 1.05 or 1), color="#90caf9", edgecolor="#1565c0")
        for key, style in (("p50", "-"), ("p90", "--"), ("max", ":")):
            value = summary[key]
            if value is not None:
                mttr.axvline(value / 60, color="#0d47a1", linestyle=style, label=f"{key} {duration(value)}")
        mttr.legend(loc="upper right", frameon=False)
        mttr.yaxis.get_major_locator().set_params(integer=True)
    else:
        mttr.text(0.5, 0.5, "no key applied", ha="center", va="center", transform=mttr.transAxes)
    mttr.set_title(f"Time to remediate: {len(samples)} keys applied", loc="left")
    mttr.set_xlabel("minutes from the CloudTrail event to the key applied")
    mttr.set_ylabel("remediations")

    names = [o.value for o in Outcome if report.outcomes.get(o.value)]
    counts = [report.outcomes[n] for n in names]
    bars = outcomes.barh(names, counts, color=[OUTCOME_COLOURS[Outcome(n)] for n in names])
    outcomes.bar_label(bars, padding=3)
    outcomes.invert_yaxis()
    outcomes.set_title("Outcomes (ledger)", loc="left")
    outcomes.set_xlabel("data sources")
    outcomes.xaxis.get_major_locator().set_params(integer=True)
    outcomes.set_xlim(0, (max(counts) if counts else 1) * 1.2)
    ratio = report.compliance.get("ratio")
    if ratio is not None:
        figure.suptitle(f"cmk-guard: compliance ratio {ratio:.1%}", x=0.01, ha="left", fontweight="bold")
    for axis in (mttr, outcomes):
        axis.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
