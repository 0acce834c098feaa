"""The lossless ``UpdateDataSource`` request: every field sent back as read, only the key changed.

UpdateDataSource replaces the data source with what it is sent, so an omitted field is a dropped field. The plan
copies every updatable field from a fresh ``GetDataSource`` and refuses to proceed if the read holds anything it
cannot send back.
"""

from __future__ import annotations

import copy
from typing import Any

from cmk_guard.errors import UnsafeUpdateError

# Fields UpdateDataSource accepts besides the identifiers, sent back exactly as GetDataSource returned them.
CARRIED_FIELDS = ("name", "description", "dataSourceConfiguration", "dataDeletionPolicy", "vectorIngestionConfiguration")
# Fields GetDataSource returns that are state, not configuration.
STATE_FIELDS = frozenset(
    {"knowledgeBaseId", "dataSourceId", "status", "createdAt", "updatedAt", "failureReasons", "serverSideEncryptionConfiguration"}
)
REDACTION_MARKERS = frozenset({"HIDDEN_DUE_TO_SECURITY_REASONS"})


def _redacted_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path] if value in REDACTION_MARKERS else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _redacted_paths(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _redacted_paths(v, f"{path}[{i}]")]
    return []


def plan_update(current: dict[str, Any], key_arn: str) -> dict[str, Any]:
    """The UpdateDataSource parameters for ``current`` (a GetDataSource ``dataSource``) moved onto ``key_arn``."""
    unknown = sorted(set(current) - set(CARRIED_FIELDS) - STATE_FIELDS)
    if unknown:
        raise UnsafeUpdateError(f"GetDataSource returned fields this version cannot carry over: {unknown}")
    for required in ("knowledgeBaseId", "dataSourceId", "name", "dataSourceConfiguration"):
        if not current.get(required):
            raise UnsafeUpdateError(f"GetDataSource returned no {required}; refusing to write a partial data source")
    redacted = _redacted_paths({f: current[f] for f in CARRIED_FIELDS if f in current})
    if redacted:
        raise UnsafeUpdateError(f"fields come back redacted and would be overwritten: {redacted}")
    request: dict[str, Any] = {
        "knowledgeBaseId": current["knowledgeBaseId"],
        "dataSourceId": current["dataSourceId"],
    }
    for field in CARRIED_FIELDS:
        if field in current:
            request[field] = copy.deepcopy(current[field])
    request["serverSideEncryptionConfiguration"] = {"kmsKeyArn": key_arn}
    return request


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The carried fields whose value differs between two reads of a data source."""
    return [f for f in CARRIED_FIELDS if before.get(f) != after.get(f)]


def previous_configuration(current: dict[str, Any]) -> dict[str, Any]:
    """What to keep in the ledger so an operator can restore the data source as it was."""
    kept = {f: current[f] for f in CARRIED_FIELDS if f in current}
    kept["knowledgeBaseId"] = current["knowledgeBaseId"]
    kept["dataSourceId"] = current["dataSourceId"]
    if "serverSideEncryptionConfiguration" in current:
        kept["serverSideEncryptionConfiguration"] = current["serverSideEncryptionConfiguration"]
    return kept
