"""KMS rotation periods, which moto ignores: ``EnableKeyRotation(RotationPeriodInDays)`` and what
``GetKeyRotationStatus`` reports back. Key state itself stays moto's."""

from __future__ import annotations

from typing import Any

from .wire import ServiceError

DEFAULT_PERIOD = 365
MIN_PERIOD, MAX_PERIOD = 90, 2560


def _key(account: str, region: str, key_id: str) -> Any:
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    try:
        return backend.keys[backend.get_key_id(backend.any_id_to_key_id(key_id))]
    except (KeyError, Exception) as exc:  # moto raises its own NotFound types or KeyError
        raise ServiceError("NotFoundException", f"Key '{key_id}' does not exist") from exc


def enable_rotation(params: dict, account: str, region: str) -> dict:
    period = int(params.get("RotationPeriodInDays") or DEFAULT_PERIOD)
    if not MIN_PERIOD <= period <= MAX_PERIOD:
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{period}' at 'rotationPeriodInDays' failed to satisfy constraint: "
            f"Member must have value between {MIN_PERIOD} and {MAX_PERIOD}",
        )
    key = _key(account, region, params["KeyId"])
    if key.key_state != "Enabled":
        raise ServiceError("KMSInvalidStateException", f"{key.arn} is {key.key_state}")
    key.key_rotation_status = True
    key.rotation_period_in_days = period
    return {}


def rotation_status(params: dict, account: str, region: str) -> dict:
    key = _key(account, region, params["KeyId"])
    output: dict[str, Any] = {"KeyRotationEnabled": bool(key.key_rotation_status), "KeyId": key.arn}
    if key.key_rotation_status:
        output["RotationPeriodInDays"] = getattr(key, "rotation_period_in_days", DEFAULT_PERIOD)
    return output
