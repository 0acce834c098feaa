"""denials: count a refused KMS call when the key is one cmk-guard manages (metric ``KmsAccessDenied``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.core import metrics
from cmk_guard.core.key_denials import denied_key_call, is_cmk_guard_key
from cmk_guard.core.models import KeyStrategy
from cmk_guard.core.report import MetricPoint
from cmk_guard.errors import ResourceGoneError

if TYPE_CHECKING:
    from collections.abc import Callable

    from cmk_guard.adapters.kms import Kms
    from cmk_guard.config import Settings


def run_denials(
    event: dict[str, Any], settings: Settings, kms: Callable[[str], Kms]
) -> tuple[dict[str, Any], list[MetricPoint]]:
    """Returns what was decided (for the log) and the metric points to emit (none for someone else's key)."""
    call = denied_key_call(event)
    if call is None:
        return {"counted": False, "why": "not a KMS access error naming a key"}, []
    existing = settings.existing_key_arn if settings.key_strategy is KeyStrategy.EXISTING else None
    ours = existing == call.key_arn
    if not ours:
        if call.account_id != str(event.get("account") or ""):
            return {"counted": False, "why": "a key of another account", **call.to_state()}, []
        try:
            ours = is_cmk_guard_key(call.key_arn, kms(call.region).aliases(call.key_arn), existing)
        except ResourceGoneError:
            return {"counted": False, "why": "the key no longer exists", **call.to_state()}, []
    if not ours:
        return {"counted": False, "why": "not a key cmk-guard manages", **call.to_state()}, []
    point = MetricPoint(metrics.KMS_ACCESS_DENIED, 1, "Count", (("Source", metrics.SOURCE_CLOUDTRAIL),))
    return {"counted": True, **call.to_state()}, [point]
