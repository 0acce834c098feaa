"""apply: re-read the data source, write it back with only the key changed, and prove nothing else moved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cmk_guard.core.update_plan import changed_fields, plan_update, previous_configuration
from cmk_guard.errors import ConcurrentChangeError, UnsafeUpdateError

if TYPE_CHECKING:
    from cmk_guard.adapters.bedrock import BedrockAgent
    from cmk_guard.adapters.ledger import Ledger
    from cmk_guard.core.models import Target


def _key_of(data_source: dict[str, Any]) -> str | None:
    return (data_source.get("serverSideEncryptionConfiguration") or {}).get("kmsKeyArn") or None


def run_apply(
    target: Target,
    key_arn: str,
    checked_key_arn: str | None,
    execution_arn: str,
    bedrock: BedrockAgent,
    ledger: Ledger,
) -> dict[str, Any]:
    current = bedrock.get_data_source(target.knowledge_base_id, target.data_source_id)
    now = datetime.now(UTC).isoformat()
    if _key_of(current) == key_arn:
        # A retry after an update that went through: nothing to write.
        return {"applied": True, "appliedAt": now, "previousKeyArn": checked_key_arn, "changedFields": []}
    if _key_of(current) != checked_key_arn:
        raise ConcurrentChangeError(
            f"the data source's key changed from {checked_key_arn or 'none'} to {_key_of(current)} since the check; "
            "not overwritten (the change raises its own event)"
        )
    request = plan_update(current, key_arn)
    ledger.save_previous_configuration(target, execution_arn, previous_configuration(current))
    bedrock.update_data_source(request)
    after = bedrock.get_data_source(target.knowledge_base_id, target.data_source_id)
    if _key_of(after) != key_arn:
        raise UnsafeUpdateError(f"after UpdateDataSource the data source is on {_key_of(after)}, not {key_arn}")
    drift = changed_fields(current, after)
    if drift:
        raise UnsafeUpdateError(
            f"after UpdateDataSource these fields differ from before: {drift}; the previous configuration is in the ledger"
        )
    return {
        "applied": True,
        "appliedAt": datetime.now(UTC).isoformat(),
        "previousKeyArn": checked_key_arn,
        "changedFields": ["serverSideEncryptionConfiguration.kmsKeyArn"],
    }
