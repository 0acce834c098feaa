"""How an ingestion job uses its data source's KMS key, the way Bedrock does (as the knowledge base role)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .identity import Principal, parse_principal
from .kms_policy import evaluate, parse_key_arn
from .trail_records import base_record
from .wire import new_request_id

BEDROCK = "bedrock.amazonaws.com"
STATISTICS = {
    "numberOfDocumentsScanned": 3, "numberOfMetadataDocumentsScanned": 0, "numberOfNewDocumentsIndexed": 3,
    "numberOfModifiedDocumentsIndexed": 0, "numberOfMetadataDocumentsModified": 0, "numberOfDocumentsDeleted": 0,
    "numberOfDocumentsFailed": 0,
}


@dataclass
class KeyUse:
    """Outcome of the job's key use: final status, failure reasons and the CloudTrail KMS records to write
    as ``(account, region, record)``."""

    status: str
    failure_reasons: list[str] = field(default_factory=list)
    records: list[tuple[str, str, dict]] = field(default_factory=list)


def use_key(key_arn: str | None, role_arn: str, job_id: str, region: str) -> KeyUse:
    """Generate a data key and decrypt it with ``key_arn`` as ``role_arn``; no key → AWS-owned key, no events."""
    if not key_arn:
        return KeyUse("COMPLETE")
    role = parse_principal(role_arn, session_name=f"BedrockKnowledgeBaseIngestion-{job_id}")
    parts = parse_key_arn(key_arn) or {"region": region, "account": role.account_id, "id": key_arn}
    key = _moto_key(parts)
    out = KeyUse("COMPLETE")
    if key is None:
        msg = f"Key '{key_arn}' does not exist"
        _fail(out, role, key_arn, parts, "GenerateDataKey", "NotFoundException", msg, with_resource=False)
        return out
    for action in ("GenerateDataKey", "Decrypt"):
        decision = evaluate(key.policy, key_arn, role, f"kms:{action}", parts["region"])
        if not decision.allowed:
            msg = (f"User: {role.session_arn} is not authorized to perform: kms:{action} on resource: {key_arn} "
                   f"because {decision.reason}")
            _fail(out, role, key_arn, parts, action, "AccessDenied", msg, code_in_reason="AccessDeniedException")
            return out
        if key.key_state != "Enabled":
            code = "DisabledException" if key.key_state == "Disabled" else "KMSInvalidStateException"
            msg = (f"{key_arn} is disabled." if key.key_state == "Disabled"
                   else f"{key_arn} is {_state_words(key.key_state)}.")
            _fail(out, role, key_arn, parts, action, code, msg)
            return out
        out.records += _kms_records(role, key_arn, parts, action, None, None, True)
    return out


def _state_words(state: str) -> str:
    return {"PendingDeletion": "pending deletion", "PendingImport": "pending import"}.get(state, f"in state {state}")


def _moto_key(parts: dict[str, str]):  # noqa: ANN202 - moto's Key
    from moto.kms.models import kms_backends

    try:
        return kms_backends[parts["account"]][parts["region"]].keys.get(parts["id"])
    except KeyError:
        return None


def _fail(out: KeyUse, role: Principal, key_arn: str, parts: dict[str, str], action: str, code: str, message: str,
          *, code_in_reason: str | None = None, with_resource: bool = True) -> None:
    out.status = "FAILED"
    out.failure_reasons.append(
        f"Unable to use the KMS key {key_arn} to encrypt transient data with role {role.arn}: "
        f"{code_in_reason or code}: {message} (Service: Kms, Status Code: 400, Request ID: {new_request_id()})"
    )
    out.records += _kms_records(role, key_arn, parts, action, code, message, with_resource)


def _kms_records(role: Principal, key_arn: str, parts: dict[str, str], action: str, code: str | None,
                 message: str | None, with_resource: bool) -> list[tuple[str, str, dict]]:
    params: dict = {"keyId": key_arn}
    if action == "GenerateDataKey":
        params["keySpec"] = "AES_256"
    else:
        params["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
    accounts = [parts["account"]] + ([role.account_id] if role.account_id != parts["account"] else [])
    out = []
    for account in accounts:
        record = base_record(
            principal=role, source="kms.amazonaws.com", name=action, region=parts["region"], account=account,
            read_only=True, when=datetime.now(timezone.utc), request_parameters=params, response_elements=None,
            request_id=new_request_id(), source_ip=BEDROCK, user_agent=BEDROCK, invoked_by=BEDROCK,
            error_code=code, error_message=message,
            resources=[{"accountId": parts["account"], "type": "AWS::KMS::Key", "ARN": key_arn}]
            if with_resource else None,
        )
        out.append((account, parts["region"], record))
    return out
