"""The catalogue of cmk-guard's CloudWatch metrics: names, units, dimensions and what each means.

One place for the names the handlers emit, the dashboard and alarms in ``template.yaml`` reference, the README
documents and the local report reads. Dimensions stay few and bounded (never a per-resource dimension: each
distinct dimension value is a billed custom metric). Powertools adds a ``service`` dimension to every metric
(``POWERTOOLS_SERVICE_NAME``); the dimension names below are the ones cmk-guard adds itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmk_guard.core.models import Outcome

NAMESPACE = "CmkGuard"
SERVICE_DIMENSION = "service"  # added by Powertools to every metric it emits


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    meaning: str
    emitted_by: str
    dimensions: tuple[str, ...] = ()
    dimension_values: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def allowed_values(self, dimension: str) -> tuple[str, ...]:
        return dict(self.dimension_values).get(dimension, ())


REMEDIATIONS = "Remediations"
NON_COMPLIANT_DETECTED = "NonCompliantDetected"
TIME_TO_REMEDIATE = "TimeToRemediateSeconds"
TIME_TO_VERIFY = "TimeToVerifySeconds"
APPROVAL_WAIT = "ApprovalWaitSeconds"
APPROVALS_REQUESTED = "ApprovalsRequested"
KMS_ACCESS_DENIED = "KmsAccessDenied"
COMPLIANCE_RATIO = "ComplianceRatio"
# The sweep's per-verdict counts (one set per sweep).
COMPLIANT_DATA_SOURCES = "CompliantDataSources"
NON_COMPLIANT_DATA_SOURCES = "NonCompliantDataSources"
SKIPPED_DATA_SOURCES = "SkippedDataSources"
UNKNOWN_DATA_SOURCES = "UnknownDataSources"
SWEEP_REMEDIATIONS_STARTED = "SweepRemediationsStarted"
SWEEP_FAILED_KNOWLEDGE_BASES = "SweepFailedKnowledgeBases"

# KmsAccessDenied{Source}: the two ways cmk-guard learns that a key it manages refused a call.
SOURCE_CLOUDTRAIL = "CloudTrail"
SOURCE_INGESTION = "Ingestion"

CATALOGUE: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            REMEDIATIONS, "Count",
            "one per finished workflow, by outcome (Sum per Outcome = how many ended that way)",
            "record step", ("Outcome",), (("Outcome", tuple(o.value for o in Outcome)),),
        ),
        MetricSpec(
            NON_COMPLIANT_DETECTED, "Count",
            "workflows whose check found the data source without a usable customer-managed key",
            "record step",
        ),
        MetricSpec(
            TIME_TO_REMEDIATE, "Seconds",
            "MTTR sample: the triggering CloudTrail eventTime to the moment the new key was applied",
            "record step",
        ),
        MetricSpec(
            TIME_TO_VERIFY, "Seconds",
            "the triggering CloudTrail eventTime to the moment the knowledge base's KMS calls were found in CloudTrail",
            "record step",
        ),
        MetricSpec(
            APPROVAL_WAIT, "Seconds",
            "from the approval request to the decision (approved, rejected or expired); SampleCount = decisions",
            "record step (when the state carries approval.requestedAt and approval.decidedAt)",
        ),
        MetricSpec(
            APPROVALS_REQUESTED, "Count",
            "approval requests sent; requested minus decided over a range is the number still awaiting a person",
            "the approval step (approval_requested_point)",
        ),
        MetricSpec(
            KMS_ACCESS_DENIED, "Count",
            "calls refused on a key cmk-guard manages: CloudTrail access errors (Source=CloudTrail) and "
            "cmk-guard's confirming ingestion jobs that failed on the key (Source=Ingestion)",
            "denials function (CloudTrail rule) and record step (ingestion)",
            ("Source",), (("Source", (SOURCE_CLOUDTRAIL, SOURCE_INGESTION)),),
        ),
        MetricSpec(
            COMPLIANCE_RATIO, "None",
            "compliant / evaluated data sources at the last sweep (0 to 1)",
            "sweep",
        ),
        MetricSpec(COMPLIANT_DATA_SOURCES, "Count", "data sources the sweep found COMPLIANT", "sweep"),
        MetricSpec(NON_COMPLIANT_DATA_SOURCES, "Count", "data sources the sweep found NON_COMPLIANT", "sweep"),
        MetricSpec(SKIPPED_DATA_SOURCES, "Count", "data sources the sweep SKIPPED (exempt, managed, ...)", "sweep"),
        MetricSpec(UNKNOWN_DATA_SOURCES, "Count", "data sources the sweep could not read (UNKNOWN)", "sweep"),
        MetricSpec(SWEEP_REMEDIATIONS_STARTED, "Count", "remediate workflows the sweep started", "sweep"),
        MetricSpec(
            SWEEP_FAILED_KNOWLEDGE_BASES, "Count",
            "knowledge bases whose evaluation still failed after retries (counted as UNKNOWN)", "sweep",
        ),
    )
}


def spec(name: str) -> MetricSpec:
    """The catalogue entry for ``name``; a name outside the catalogue is a programming error."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a cmk-guard metric (catalogue: {sorted(CATALOGUE)})") from None
