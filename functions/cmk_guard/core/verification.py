"""Confirm a fix from CloudTrail: KMS events on the new key, made for the knowledge base, after the update."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

# Bedrock encrypts transient data with data keys; these are the calls it makes on the key.
KEY_USE_EVENTS = frozenset({"GenerateDataKey", "Decrypt", "GenerateDataKeyWithoutPlaintext", "ReEncrypt"})
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
CLOCK_SKEW = timedelta(minutes=5)


def _names_key(record: dict[str, Any], key_arn: str) -> bool:
    if any(r.get("ARN") == key_arn for r in record.get("resources") or [] if isinstance(r, dict)):
        return True
    params = record.get("requestParameters") or {}
    return isinstance(params, dict) and params.get("keyId") == key_arn


def _made_for(record: dict[str, Any], role_arn: str) -> bool:
    """The call was made by the knowledge base role, or by Bedrock on its behalf (the exact identity is unconfirmed)."""
    identity = record.get("userIdentity") or {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return issuer.get("arn") == role_arn or identity.get("invokedBy") == "bedrock.amazonaws.com"


def _event_time(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def is_key_use(record: dict[str, Any], *, key_arn: str, role_arn: str, not_before: datetime) -> bool:
    """A successful KMS data-key call on ``key_arn`` for the knowledge base, no earlier than the update (less skew)."""
    when = _event_time(record)
    return (
        record.get("eventSource") == "kms.amazonaws.com"
        and record.get("eventName") in KEY_USE_EVENTS
        and not record.get("errorCode")
        and _names_key(record, key_arn)
        and _made_for(record, role_arn)
        and when is not None
        and when >= not_before - CLOCK_SKEW
    )


def is_access_denied(record: dict[str, Any], *, key_arn: str) -> bool:
    return (
        record.get("eventSource") == "kms.amazonaws.com"
        and record.get("errorCode") in ACCESS_DENIED_CODES
        and _names_key(record, key_arn)
    )


def summarize(record: dict[str, Any]) -> dict[str, str]:
    identity = record.get("userIdentity") or {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return {
        "eventId": str(record.get("eventID", "")),
        "eventName": str(record.get("eventName", "")),
        "eventTime": str(record.get("eventTime", "")),
        "principal": str(issuer.get("arn") or identity.get("arn") or identity.get("invokedBy") or ""),
    }


def next_wait_seconds(attempt: int, initial: int, maximum: int) -> int:
    """Exponential backoff between CloudTrail look-ups: initial, 2x, 4x … capped at ``maximum``."""
    return max(1, min(maximum, initial * (2 ** max(0, attempt))))
