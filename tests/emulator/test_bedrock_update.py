"""UpdateDataSource is a PUT: what is omitted is dropped, and create-only members cannot change."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import S3_CONFIG, make_kb, make_key, make_role

CHUNKING = {"chunkingStrategy": "FIXED_SIZE",
            "fixedSizeChunkingConfiguration": {"maxTokens": 300, "overlapPercentage": 20}}
PARSING = {"parsingStrategy": "BEDROCK_FOUNDATION_MODEL", "bedrockFoundationModelConfiguration": {
    "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"}}


@pytest.fixture
def full_ds(bedrock, iam) -> dict[str, Any]:
    kb_id = make_kb(bedrock, make_role(iam))
    return bedrock.create_data_source(
        knowledgeBaseId=kb_id, name="docs", description="product docs", dataSourceConfiguration=S3_CONFIG,
        dataDeletionPolicy="RETAIN",
        vectorIngestionConfiguration={"chunkingConfiguration": CHUNKING, "parsingConfiguration": PARSING},
    )["dataSource"]


def _update(bedrock, ds: dict, **overrides: Any) -> dict:
    members = ("name", "description", "dataSourceConfiguration", "dataDeletionPolicy",
               "serverSideEncryptionConfiguration", "vectorIngestionConfiguration")
    body = {k: ds[k] for k in members if k in ds}
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    return bedrock.update_data_source(knowledgeBaseId=ds["knowledgeBaseId"], dataSourceId=ds["dataSourceId"],
                                      **body)["dataSource"]


def test_full_copy_plus_key_keeps_everything(bedrock, kms, full_ds):
    key = make_key(kms, None)
    updated = _update(bedrock, full_ds, serverSideEncryptionConfiguration={"kmsKeyArn": key})
    stored = bedrock.get_data_source(knowledgeBaseId=full_ds["knowledgeBaseId"],
                                     dataSourceId=full_ds["dataSourceId"])["dataSource"]
    assert stored == updated
    assert stored["serverSideEncryptionConfiguration"] == {"kmsKeyArn": key}
    for member in ("description", "dataDeletionPolicy", "vectorIngestionConfiguration", "dataSourceConfiguration"):
        assert stored[member] == full_ds[member]
    assert stored["updatedAt"] >= full_ds["updatedAt"] and stored["createdAt"] == full_ds["createdAt"]


def test_omitted_members_are_dropped(bedrock, kms, full_ds):
    key = make_key(kms, None)
    _update(bedrock, full_ds, serverSideEncryptionConfiguration={"kmsKeyArn": key})
    stored = _update(bedrock, {**full_ds, "serverSideEncryptionConfiguration": {"kmsKeyArn": key}},
                     description=None, dataDeletionPolicy=None)
    assert "description" not in stored and "dataDeletionPolicy" not in stored
    stored = _update(bedrock, {**full_ds}, serverSideEncryptionConfiguration=None)
    assert "serverSideEncryptionConfiguration" not in stored  # a lossy remediation is visible


def test_chunking_cannot_change_or_be_omitted(bedrock, full_ds):
    other = {"chunkingStrategy": "NONE"}
    with pytest.raises(bedrock.exceptions.ValidationException, match="chunkingConfiguration"):
        _update(bedrock, full_ds, vectorIngestionConfiguration={"chunkingConfiguration": other,
                                                                "parsingConfiguration": PARSING})
    with pytest.raises(bedrock.exceptions.ValidationException, match="chunkingConfiguration"):
        _update(bedrock, full_ds, vectorIngestionConfiguration=None)
    with pytest.raises(bedrock.exceptions.ValidationException, match="chunkingConfiguration"):
        _update(bedrock, full_ds, vectorIngestionConfiguration={"parsingConfiguration": PARSING})


def test_parsing_strategy_and_type_cannot_change(bedrock, full_ds):
    bda = {"parsingStrategy": "BEDROCK_DATA_AUTOMATION", "bedrockDataAutomationConfiguration": {}}
    with pytest.raises(bedrock.exceptions.ValidationException, match="parsing strategy"):
        _update(bedrock, full_ds, vectorIngestionConfiguration={"chunkingConfiguration": CHUNKING,
                                                                "parsingConfiguration": bda})
    with pytest.raises(bedrock.exceptions.ValidationException, match="parsing strategy"):
        _update(bedrock, full_ds, vectorIngestionConfiguration={"chunkingConfiguration": CHUNKING})
    with pytest.raises(bedrock.exceptions.ValidationException, match="type"):
        _update(bedrock, full_ds, dataSourceConfiguration={"type": "CUSTOM"})


def test_rejected_update_leaves_data_source_unchanged(bedrock, full_ds):
    with pytest.raises(bedrock.exceptions.ValidationException):
        _update(bedrock, full_ds, description="changed", vectorIngestionConfiguration=None)
    stored = bedrock.get_data_source(knowledgeBaseId=full_ds["knowledgeBaseId"],
                                     dataSourceId=full_ds["dataSourceId"])["dataSource"]
    assert stored["description"] == "product docs"
