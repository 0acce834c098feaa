"""The lossless update plan: every carried field is sent back unchanged; only the key changes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from cmk_guard.core.update_plan import CARRIED_FIELDS, changed_fields, plan_update
from cmk_guard.errors import UnsafeUpdateError
from cmk_guard_local.scenario import data_source_configurations, vector_ingestion_configurations

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def read(configuration: dict, vector: dict | None) -> dict:
    data_source = {
        "knowledgeBaseId": "KB12345678",
        "dataSourceId": "DS12345678",
        "name": "docs",
        "description": "team handbook",
        "status": "AVAILABLE",
        "dataSourceConfiguration": configuration,
        "dataDeletionPolicy": "RETAIN",
        "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
        "updatedAt": datetime(2026, 1, 2, tzinfo=UTC),
    }
    if vector is not None:
        data_source["vectorIngestionConfiguration"] = vector
    return data_source


CONFIGS = data_source_configurations("us-east-1", "111122223333")
VECTORS = vector_ingestion_configurations("us-east-1")


@pytest.mark.parametrize("ds_type", sorted(CONFIGS))
@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_every_field_is_carried_and_only_the_key_changes(ds_type: str, vector: str) -> None:
    current = read(CONFIGS[ds_type], VECTORS[vector])
    snapshot = copy.deepcopy(current)
    request = plan_update(current, KEY)
    assert request["serverSideEncryptionConfiguration"] == {"kmsKeyArn": KEY}
    for field in CARRIED_FIELDS:
        assert request.get(field) == current.get(field)
    assert set(request) == {"knowledgeBaseId", "dataSourceId", "serverSideEncryptionConfiguration"} | {
        f for f in CARRIED_FIELDS if f in current
    }
    assert current == snapshot, "planning must not mutate the read"
    request["dataSourceConfiguration"]["type"] = "MUTATED"
    assert current["dataSourceConfiguration"]["type"] == ds_type, "the plan holds copies"


def test_unknown_fields_stop_the_update() -> None:
    current = read(CONFIGS["S3"], None) | {"brandNewSetting": {"x": 1}}
    with pytest.raises(UnsafeUpdateError, match="brandNewSetting"):
        plan_update(current, KEY)


def test_redacted_values_stop_the_update() -> None:
    configuration = copy.deepcopy(CONFIGS["S3"])
    configuration["s3Configuration"]["inclusionPrefixes"] = ["HIDDEN_DUE_TO_SECURITY_REASONS"]
    with pytest.raises(UnsafeUpdateError, match="redacted"):
        plan_update(read(configuration, None), KEY)


def test_missing_required_fields_stop_the_update() -> None:
    current = read(CONFIGS["S3"], None)
    del current["dataSourceConfiguration"]
    with pytest.raises(UnsafeUpdateError, match="dataSourceConfiguration"):
        plan_update(current, KEY)


def test_changed_fields_names_the_drift() -> None:
    before = read(CONFIGS["S3"], VECTORS["fixed"])
    after = copy.deepcopy(before)
    del after["vectorIngestionConfiguration"]
    after["description"] = "other"
    assert changed_fields(before, after) == ["description", "vectorIngestionConfiguration"]
