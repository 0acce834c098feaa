"""Responses the emulator builds conform to the botocore output shapes (and the checker really checks)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.awsrequest import AWSPreparedRequest

from cmk_guard_local.emulator import shapes, wire

from .helpers import ACCOUNT, allow, key_policy, make_key, make_role, run_ingestion, S3_CONFIG, EMBEDDING


def _conforms(client, operation: str, response: dict) -> None:
    shape = client.meta.service_model.operation_model(operation).output_shape
    problems = shapes.conformance_errors(shape, response, ignore=("ResponseMetadata",))
    assert problems == [], problems


def test_every_emulated_operation_round_trips(acct, bedrock, kms, iam, cloudtrail):
    role = make_role(iam)
    out = {}
    out["CreateKnowledgeBase"] = bedrock.create_knowledge_base(
        name="kb", roleArn=role, description="d", tags={"a": "b"},
        knowledgeBaseConfiguration={"type": "VECTOR", "vectorKnowledgeBaseConfiguration": {
            "embeddingModelArn": EMBEDDING}})
    kb = out["CreateKnowledgeBase"]["knowledgeBase"]
    kb_id = kb["knowledgeBaseId"]
    assert out["CreateKnowledgeBase"]["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert isinstance(kb["createdAt"], datetime) and kb["createdAt"].tzinfo is not None
    out["GetKnowledgeBase"] = bedrock.get_knowledge_base(knowledgeBaseId=kb_id)
    out["ListKnowledgeBases"] = bedrock.list_knowledge_bases()
    out["TagResource"] = bedrock.tag_resource(resourceArn=kb["knowledgeBaseArn"], tags={"c": "d"})
    out["UntagResource"] = bedrock.untag_resource(resourceArn=kb["knowledgeBaseArn"], tagKeys=["c"])
    out["ListTagsForResource"] = bedrock.list_tags_for_resource(resourceArn=kb["knowledgeBaseArn"])
    key = make_key(kms, key_policy(allow(role)))
    out["CreateDataSource"] = bedrock.create_data_source(
        knowledgeBaseId=kb_id, name="ds", dataSourceConfiguration=S3_CONFIG, dataDeletionPolicy="DELETE",
        serverSideEncryptionConfiguration={"kmsKeyArn": key})
    ds_id = out["CreateDataSource"]["dataSource"]["dataSourceId"]
    out["GetDataSource"] = bedrock.get_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)
    out["UpdateDataSource"] = bedrock.update_data_source(
        knowledgeBaseId=kb_id, dataSourceId=ds_id, name="ds", dataSourceConfiguration=S3_CONFIG)
    out["ListDataSources"] = bedrock.list_data_sources(knowledgeBaseId=kb_id)
    out["StartIngestionJob"] = bedrock.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)
    job = run_ingestion(bedrock, kb_id, ds_id)
    out["GetIngestionJob"] = {"ingestionJob": job}
    out["ListIngestionJobs"] = bedrock.list_ingestion_jobs(knowledgeBaseId=kb_id, dataSourceId=ds_id)
    out["DeleteDataSource"] = bedrock.delete_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)
    out["DeleteKnowledgeBase"] = bedrock.delete_knowledge_base(knowledgeBaseId=kb_id)
    for operation, response in out.items():
        _conforms(bedrock, operation, response)
    assert len(out) == 15

    events = cloudtrail.lookup_events()
    _conforms(cloudtrail, "LookupEvents", events)
    assert isinstance(events["Events"][0]["EventTime"], datetime)


def test_checker_reports_departures(bedrock):
    shape = bedrock.meta.service_model.operation_model("GetDataSource").output_shape
    naive = datetime(2024, 1, 1)
    bad = {"dataSource": {"knowledgeBaseId": "ABCDEFGHIJ", "dataSourceId": "bad id", "name": "x",
                          "status": "Available", "dataSourceConfiguration": {"type": "S3"},
                          "createdAt": naive, "extra": 1}}
    problems = " | ".join(shapes.conformance_errors(shape, bad))
    for expected in ("unknown member 'extra'", "missing required member 'updatedAt'", "enum value set",
                     "regular expression pattern", "naive datetime"):
        assert expected in problems


def test_emulator_refuses_to_send_a_nonconforming_response(bedrock):
    operation = bedrock.meta.service_model.operation_model("GetKnowledgeBase")
    request = AWSPreparedRequest("GET", "https://example.invalid/", {}, b"", False)
    with pytest.raises(wire.EmulatorBug):
        wire.success(request, operation, {"knowledgeBase": {"knowledgeBaseId": "ABCDEFGHIJ"}}, "rid")
    ok = {"knowledgeBase": {
        "knowledgeBaseId": "ABCDEFGHIJ", "name": "kb", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
        "knowledgeBaseArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:knowledge-base/ABCDEFGHIJ",
        "knowledgeBaseConfiguration": {"type": "KENDRA"}, "status": "ACTIVE",
        "createdAt": datetime.now(timezone.utc), "updatedAt": datetime.now(timezone.utc)}}
    assert wire.success(request, operation, ok, "rid").status_code == 200
