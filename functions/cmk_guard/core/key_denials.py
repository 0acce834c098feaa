"""KMS calls refused on a key: read the key and the caller out of the CloudTrail record, decide if cmk-guard owns it.

The EventBridge rule delivers every KMS access error in the account and region (keys are created at run time, so the
rule cannot name them). A key is cmk-guard's when it carries an alias under ``alias/cmk-guard/`` (every key
cmk-guard creates gets one) or is the configured key of the ``existing`` strategy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cmk_guard.core.key_scope import ALIAS_PREFIX

KMS_SOURCE = "kms.amazonaws.com"
ACCESS_ERROR_PREFIX = "AccessDenied"  # AccessDenied, AccessDeniedException
_KEY_ARN = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key/([A-Za-z0-9-]+)$")
_KEY_ID = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


@dataclass(frozen=True)
class DeniedKeyCall:
    """One refused KMS call on one key, as CloudTrail recorded it."""

    key_arn: str
    account_id: str
    region: str
    event_id: str
    event_name: str
    event_time: str
    error_code: str
    principal: str

    def to_state(self) -> dict[str, str]:
        return {
            "keyArn": self.key_arn, "eventId": self.event_id, "eventName": self.event_name,
            "eventTime": self.event_time, "errorCode": self.error_code, "principal": self.principal,
        }


def _key_arn(record: dict[str, Any]) -> str | None:
    for resource in record.get("resources") or []:
        if isinstance(resource, dict) and resource.get("type") == "AWS::KMS::Key":
            arn = str(resource.get("ARN") or "")
            if _KEY_ARN.match(arn):
                return arn
    params = record.get("requestParameters")
    key_id = str(params.get("keyId") or "") if isinstance(params, dict) else ""
    if _KEY_ARN.match(key_id):
        return key_id
    if _KEY_ID.match(key_id):  # a bare key id names a key of the caller's account and region
        account, region = str(record.get("recipientAccountId") or ""), str(record.get("awsRegion") or "")
        if re.fullmatch(r"\d{12}", account) and region:
            return f"arn:aws:kms:{region}:{account}:key/{key_id}"
    return None  # an alias, or no key at all (CreateKey, ListKeys...): nothing to attribute


def _principal(record: dict[str, Any]) -> str:
    identity = record.get("userIdentity") or {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return str(issuer.get("arn") or identity.get("arn") or identity.get("invokedBy") or identity.get("type") or "")


def denied_key_call(event: dict[str, Any]) -> DeniedKeyCall | None:
    """The refused call an EventBridge event carries, or ``None`` when it is not a KMS access error on a key."""
    record = event.get("detail") if isinstance(event.get("detail"), dict) else None
    if record is None or record.get("eventSource") != KMS_SOURCE:
        return None
    code = str(record.get("errorCode") or "")
    if not code.startswith(ACCESS_ERROR_PREFIX):
        return None
    key_arn = _key_arn(record)
    if key_arn is None:
        return None
    match = _KEY_ARN.match(key_arn)
    assert match is not None
    return DeniedKeyCall(
        key_arn=key_arn,
        account_id=match.group(3),
        region=match.group(2),
        event_id=str(record.get("eventID") or ""),
        event_name=str(record.get("eventName") or ""),
        event_time=str(record.get("eventTime") or ""),
        error_code=code,
        principal=_principal(record),
    )


def is_cmk_guard_key(key_arn: str, aliases: list[str], existing_key_arn: str | None) -> bool:
    """Whether cmk-guard manages the key: one of its aliases points at it, or it is the ``existing`` key."""
    if existing_key_arn and key_arn == existing_key_arn:
        return True
    return any(alias.startswith(ALIAS_PREFIX) for alias in aliases)
