"""Decide whether a data source is on a usable customer-managed key. Pure: the caller gathers the facts."""

from __future__ import annotations

from cmk_guard.core.models import DataSourceFacts, Evaluation, KeyFacts, KnowledgeBaseFacts, Mode, Reason, Verdict

DELETING_STATES = frozenset({"DELETING", "DELETE_UNSUCCESSFUL"})
# Data source types whose ingestion keeps no transient data under a data-source key.
TYPES_WITHOUT_TRANSIENT_KEY = frozenset({"REDSHIFT_METADATA"})
PENDING_DELETION_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion"})


def key_region(key_arn: str) -> str | None:
    """The region named in a KMS key ARN (``arn:aws:kms:<region>:<account>:key/<id>``)."""
    parts = key_arn.split(":")
    return parts[3] if len(parts) >= 6 and parts[2] == "kms" else None


def unknown(detail: str, current_key_arn: str | None = None) -> Evaluation:
    """Something could not be read: never compliant, never changed."""
    return Evaluation(verdict=Verdict.UNKNOWN, reason=Reason.READ_FAILED, detail=detail, current_key_arn=current_key_arn)


def skipped(reason: Reason, detail: str) -> Evaluation:
    return Evaluation(verdict=Verdict.SKIPPED, reason=reason, detail=detail)


def _skip_reason(kb: KnowledgeBaseFacts, ds: DataSourceFacts, mode: Mode, exempt_reason: str | None) -> Evaluation | None:
    if kb.status.upper() in DELETING_STATES:
        return skipped(Reason.KNOWLEDGE_BASE_DELETING, f"knowledge base {kb.knowledge_base_id} is {kb.status}")
    if ds.status.upper() in DELETING_STATES:
        return skipped(Reason.DATA_SOURCE_DELETING, f"data source {ds.data_source_id} is {ds.status}")
    if mode is Mode.EXEMPT:
        why = f": {exempt_reason}" if exempt_reason else ""
        return skipped(Reason.EXEMPT, f"knowledge base {kb.knowledge_base_id} is tagged exempt{why}")
    if kb.type.upper() == "MANAGED":
        return skipped(Reason.MANAGED_KNOWLEDGE_BASE, "a MANAGED knowledge base takes its key at creation, on the knowledge base")
    if ds.type.upper() in TYPES_WITHOUT_TRANSIENT_KEY:
        return skipped(Reason.NO_TRANSIENT_DATA_ENCRYPTION, f"{ds.type} data sources take no transient-data key")
    return None


def _key_reason(region: str, key_arn: str, key: KeyFacts | None) -> tuple[Reason, str]:
    if key is None:
        return Reason.KEY_NOT_FOUND, f"key {key_arn} does not exist"
    if key_region(key.arn) not in (None, region):
        return Reason.KEY_IN_OTHER_REGION, f"key {key.arn} is not in {region}"
    if key.key_manager != "CUSTOMER":
        return Reason.AWS_MANAGED_KEY, f"key {key.arn} is an AWS managed key"
    if key.key_state == "Disabled":
        return Reason.KEY_DISABLED, f"key {key.arn} is disabled"
    if key.key_state in PENDING_DELETION_STATES:
        return Reason.KEY_PENDING_DELETION, f"key {key.arn} is pending deletion"
    if key.key_state != "Enabled" or key.key_spec != "SYMMETRIC_DEFAULT" or key.key_usage != "ENCRYPT_DECRYPT":
        return Reason.KEY_UNUSABLE, f"key {key.arn} ({key.key_state}, {key.key_spec}, {key.key_usage}) cannot encrypt data"
    return Reason.CUSTOMER_MANAGED_KEY, f"key {key.arn} is an enabled customer-managed key"


def evaluate(
    region: str,
    kb: KnowledgeBaseFacts,
    ds: DataSourceFacts,
    key: KeyFacts | None,
    mode: Mode,
    exempt_reason: str | None = None,
) -> Evaluation:
    """The verdict for one data source. ``key`` is the DescribeKey result, ``None`` when the key does not exist."""
    skip = _skip_reason(kb, ds, mode, exempt_reason)
    if skip is not None:
        return skip
    if not ds.kms_key_arn:
        return Evaluation(
            verdict=Verdict.NON_COMPLIANT,
            reason=Reason.AWS_OWNED_KEY,
            detail="no kmsKeyArn: transient ingestion data is under an AWS-owned key",
        )
    reason, detail = _key_reason(region, ds.kms_key_arn, key)
    verdict = Verdict.COMPLIANT if reason is Reason.CUSTOMER_MANAGED_KEY else Verdict.NON_COMPLIANT
    return Evaluation(verdict=verdict, reason=reason, detail=detail, current_key_arn=ds.kms_key_arn)
