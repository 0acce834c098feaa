"""The preventive hook's verdict on a proposed ``AWS::Bedrock::DataSource``, in the workflow's vocabulary. Pure.

The hook sees the template's properties before anything exists, so it decides less than the workflow's
``verdict.evaluate`` and says so:

- no ``KmsKeyArn``: refused (``AWS_OWNED_KEY``) unless the knowledge base is exempt or ``MANAGED``;
- a key ARN of the right form (the Bedrock model's pattern) in the stack's region: allowed. Whether the key is an
  enabled customer-managed key is checked by the workflow once the data source exists;
- an alias ARN, a bare key id or anything else that is not a key ARN: refused (Bedrock accepts only key ARNs);
- a key in another region: refused (``KEY_IN_OTHER_REGION``);
- a key left as an intrinsic function (``Ref``, ``Fn::GetAtt``, ``Fn::ImportValue``, ``Fn::Sub``...): allowed
  with a warning, never refused blindly;
- ``REDSHIFT_METADATA``: nothing to check (``NO_TRANSIENT_DATA_ENCRYPTION``), as in the workflow.

A refusal can be lifted only by what the knowledge base itself says (``apply_knowledge_base``): the tag
``cmk-guard:mode=exempt`` or the ``MANAGED`` type. When that cannot be read the refusal stands (fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from cmk_guard.core.hook_request import DataSourceTemplate, Unresolved
from cmk_guard.core.models import Mode, Reason, Verdict
from cmk_guard.core.modes import EXEMPT_REASON_TAG, MODE_TAG, resolve_mode
from cmk_guard.core.verdict import TYPES_WITHOUT_TRANSIENT_KEY, key_region

# serverSideEncryptionConfiguration.kmsKeyArn in the bedrock-agent model (botocore 1.44.8): key ARNs only.
KEY_ARN = re.compile(r"^arn:aws(|-cn|-us-gov):kms:[a-zA-Z0-9-]*:[0-9]{12}:key/[a-zA-Z0-9-]{36}$")
ALIAS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-zA-Z0-9-]*:[0-9]{12}:alias/.+$")


class HookReason(StrEnum):
    """Reasons only the hook gives (the rest are the workflow's ``Reason``)."""

    KEY_ARN_NAMED = "KEY_ARN_NAMED"  # a well-formed key ARN: the key itself is checked after deployment
    KEY_NOT_RESOLVED = "KEY_NOT_RESOLVED"  # an intrinsic function the hook cannot resolve
    KEY_ALIAS_ARN = "KEY_ALIAS_ARN"
    KEY_ARN_MALFORMED = "KEY_ARN_MALFORMED"
    INVALID_RESOURCE = "INVALID_RESOURCE"
    INVALID_REQUEST = "INVALID_REQUEST"
    NOT_EVALUATED = "NOT_EVALUATED"  # another resource type, or a delete
    HOOK_ERROR = "HOOK_ERROR"


class HookDecision(StrEnum):
    ALLOW = "ALLOW"  # hookStatus SUCCESS
    WARN = "WARN"  # hookStatus SUCCESS with a warning: the hook could not decide
    REFUSE = "REFUSE"  # hookStatus FAILED, NonCompliant (only a warning when the hook's FailureMode is WARN)
    ERROR = "ERROR"  # hookStatus FAILED, InternalFailure: the hook could not evaluate


@dataclass(frozen=True)
class HookFinding:
    decision: HookDecision
    verdict: Verdict
    reason: Reason | HookReason
    detail: str
    remediation: str | None = None
    exemption_note: str | None = None

    @property
    def message(self) -> str:
        parts = [f"cmk-guard: {self.detail}"]
        if self.remediation:
            parts.append(f"Fix: {self.remediation}")
        if self.exemption_note:
            parts.append(self.exemption_note)
        return " ".join(parts)


@dataclass(frozen=True)
class KnowledgeBaseLookup:
    """What could be read about the data source's knowledge base when a refusal was about to be given."""

    type: str | None = None
    tags: dict[str, str] | None = None  # None: not read
    problem: str | None = None  # why the type or tags could not be read


def _data_source(ds: DataSourceTemplate) -> str:
    return f"data source {ds.logical_id} of knowledge base {ds.knowledge_base_label}"


def _use_a_key(ds: DataSourceTemplate, region: str | None) -> str:
    where = f" in {region}" if region else ""
    return (
        f"set ServerSideEncryptionConfiguration.KmsKeyArn on {ds.logical_id} to the ARN of a customer-managed KMS "
        f"key{where} (arn:aws:kms:<region>:<account>:key/<key-id>, for example !GetAtt MyKey.Arn; not an alias). "
        f"Its key policy must let the service role of knowledge base {ds.knowledge_base_label} call "
        "kms:GenerateDataKey and kms:Decrypt. If this knowledge base must stay on the AWS-owned key, tag it "
        f"{MODE_TAG}=exempt and give the reason in {EXEMPT_REASON_TAG}."
    )


def _refuse(
    ds: DataSourceTemplate, region: str | None, reason: Reason | HookReason, detail: str, fix: str | None = None
) -> HookFinding:
    return HookFinding(HookDecision.REFUSE, Verdict.NON_COMPLIANT, reason, detail, fix or _use_a_key(ds, region))


def _no_key(ds: DataSourceTemplate, region: str | None) -> HookFinding:
    detail = (
        f"{_data_source(ds)} has no ServerSideEncryptionConfiguration.KmsKeyArn, so Bedrock would keep its "
        "transient ingestion data under an AWS-owned key that you cannot audit, restrict or revoke."
    )
    if ds.previous_key:
        detail += f" This update would remove the key it has now ({ds.previous_key})."
    return _refuse(ds, region, Reason.AWS_OWNED_KEY, detail)


def _literal_key(ds: DataSourceTemplate, key: str, region: str | None) -> HookFinding:
    if ALIAS_ARN.fullmatch(key):
        detail = f"{_data_source(ds)} names {key}, an alias ARN; Bedrock accepts only a key ARN in KmsKeyArn."
        fix = (
            "use the ARN of the key the alias points to (for example !GetAtt MyKey.Arn, or the KeyMetadata.Arn "
            f"that `aws kms describe-key --key-id {key}` returns) instead of the alias."
        )
        return _refuse(ds, region, HookReason.KEY_ALIAS_ARN, detail, fix)
    if not KEY_ARN.fullmatch(key):
        detail = f"{_data_source(ds)} names {key!r}, which is not a KMS key ARN; Bedrock accepts only key ARNs."
        fix = "set KmsKeyArn to the key's full ARN (arn:aws:kms:<region>:<account>:key/<key-id>), not an id or alias."
        return _refuse(ds, region, HookReason.KEY_ARN_MALFORMED, detail, fix)
    key_in = key_region(key)
    if region and key_in != region:
        detail = f"{_data_source(ds)} names key {key} in {key_in}, but the data source is in {region}."
        fix = f"use a customer-managed key in {region} (a multi-Region replica in {region} has an ARN of its own)."
        return _refuse(ds, region, Reason.KEY_IN_OTHER_REGION, detail, fix)
    detail = (
        f"{_data_source(ds)} names key {key}. The hook checks the ARN's form only; once the data source exists, "
        "cmk-guard's workflow checks that the key is an enabled customer-managed key and fixes it if not."
    )
    return HookFinding(HookDecision.ALLOW, Verdict.COMPLIANT, HookReason.KEY_ARN_NAMED, detail)


def _unresolved_key(ds: DataSourceTemplate, key: Unresolved) -> HookFinding:
    detail = (
        f"{_data_source(ds)} takes its key from {key.text}, which is not resolved when the hook runs, so the hook "
        "cannot check it and lets the deployment continue. Once the data source exists, cmk-guard's workflow "
        "checks its key and moves it onto a customer-managed key if it has none."
    )
    fix = "to have the hook check the key before deployment, pass the key ARN as a literal or a stack parameter."
    return HookFinding(HookDecision.WARN, Verdict.UNKNOWN, HookReason.KEY_NOT_RESOLVED, detail, fix)


def assess(ds: DataSourceTemplate, region: str | None) -> HookFinding:
    """The verdict from the template alone. ``region`` is the stack's region (``None``: unknown, not checked)."""
    if ds.type is not None and ds.type.upper() in TYPES_WITHOUT_TRANSIENT_KEY:
        detail = f"{_data_source(ds)} is a {ds.type} data source, which takes no transient-data key: nothing to check."
        return HookFinding(HookDecision.ALLOW, Verdict.SKIPPED, Reason.NO_TRANSIENT_DATA_ENCRYPTION, detail)
    if ds.key is None:
        return _no_key(ds, region)
    if isinstance(ds.key, Unresolved):
        return _unresolved_key(ds, ds.key)
    return _literal_key(ds, ds.key, region)


def apply_knowledge_base(finding: HookFinding, ds: DataSourceTemplate, lookup: KnowledgeBaseLookup) -> HookFinding:
    """Lift a refusal when the knowledge base is exempt or ``MANAGED``; otherwise it stands, saying what was seen."""
    if finding.decision is not HookDecision.REFUSE:
        return finding
    label = ds.knowledge_base_label
    if (lookup.type or "").upper() == "MANAGED":
        detail = (
            f"knowledge base {label} is a MANAGED knowledge base: its key is set on the knowledge base, not on data "
            f"source {ds.logical_id}."
        )
        return HookFinding(HookDecision.ALLOW, Verdict.SKIPPED, Reason.MANAGED_KNOWLEDGE_BASE, detail)
    if lookup.tags is not None and resolve_mode(Mode.AUTO, lookup.tags).mode is Mode.EXEMPT:
        why = lookup.tags.get(EXEMPT_REASON_TAG)
        detail = (
            f"knowledge base {label} is tagged {MODE_TAG}=exempt{f' ({why})' if why else ''}: data source "
            f"{ds.logical_id} is allowed as it is."
        )
        return HookFinding(HookDecision.ALLOW, Verdict.SKIPPED, Reason.EXEMPT, detail)
    if lookup.problem:
        note = (
            f"cmk-guard could not check whether knowledge base {label} is exempt ({lookup.problem}); without that, "
            "the refusal stands."
        )
    else:
        note = f"Knowledge base {label} is not tagged {MODE_TAG}=exempt."
    return replace(finding, exemption_note=note)


def not_evaluated(target_name: str, invocation_point: str) -> HookFinding:
    detail = (
        f"cmk-guard evaluates creates and updates of AWS::Bedrock::DataSource only; {target_name} "
        f"({invocation_point}) was not evaluated."
    )
    return HookFinding(HookDecision.ALLOW, Verdict.SKIPPED, HookReason.NOT_EVALUATED, detail)


def invalid_resource(logical_id: str, problem: str) -> HookFinding:
    detail = f"data source {logical_id} cannot be evaluated: {problem}."
    fix = "correct the resource's properties (see the AWS::Bedrock::DataSource reference) and deploy again."
    return HookFinding(HookDecision.REFUSE, Verdict.UNKNOWN, HookReason.INVALID_RESOURCE, detail, fix)


def invalid_request(problem: str) -> HookFinding:
    detail = f"the hook request could not be read ({problem}); nothing was evaluated."
    return HookFinding(HookDecision.ERROR, Verdict.UNKNOWN, HookReason.INVALID_REQUEST, detail)


def hook_error(problem: str) -> HookFinding:
    detail = f"the hook failed while evaluating the data source ({problem}); see the hook function's logs."
    return HookFinding(HookDecision.ERROR, Verdict.UNKNOWN, HookReason.HOOK_ERROR, detail)
