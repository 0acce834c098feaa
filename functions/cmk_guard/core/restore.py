"""The way back: the UpdateDataSource that puts a data source's previous configuration back, and the command for it.

cmk-guard never restores on its own. When a remediation fails after the update, it reports this command; an
operator decides. The previous configuration is the ledger's ``PREVIOUS#`` item, written before the update.
"""

from __future__ import annotations

import copy
from typing import Any

from cmk_guard.core.update_plan import CARRIED_FIELDS, changed_fields
from cmk_guard.errors import UnsafeUpdateError

RESTORED_FIELDS = (*CARRIED_FIELDS, "serverSideEncryptionConfiguration")


def restore_command(region: str, knowledge_base_id: str, data_source_id: str) -> str:
    """The CLI line that shows (and with ``--apply`` performs) the restore."""
    return (
        f"cmk-guard restore --region {region} --knowledge-base-id {knowledge_base_id} "
        f"--data-source-id {data_source_id}"
    )


def restore_request(previous: dict[str, Any]) -> dict[str, Any]:
    """UpdateDataSource parameters that put ``previous`` back exactly, its key (or the lack of one) included."""
    for required in ("knowledgeBaseId", "dataSourceId", "name", "dataSourceConfiguration"):
        if not previous.get(required):
            raise UnsafeUpdateError(
                f"the saved configuration has no {required}; refusing to write a partial data source"
            )
    request: dict[str, Any] = {"knowledgeBaseId": previous["knowledgeBaseId"], "dataSourceId": previous["dataSourceId"]}
    for field in RESTORED_FIELDS:
        if previous.get(field) is not None:
            request[field] = copy.deepcopy(previous[field])
    return request


def drift_since(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Fields other than the key that changed since the configuration was saved (a restore would undo them)."""
    return changed_fields(previous, current)
