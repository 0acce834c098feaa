"""What the real service rejects and botocore does not: patterns, enums, unknown ids, config consistency."""

from __future__ import annotations

import pytest

from cmk_guard_local.emulator import EmulatorNotImplemented

from .helpers import ACCOUNT, EMBEDDING, REGION, S3_CONFIG, make_ds, make_kb, make_role


@pytest.fixture
def kb_id(bedrock, iam) -> str:
    return make_kb(bedrock, make_role(iam))


@pytest.mark.parametrize("bad_key", [
    f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/cmk-guard",          # alias ARN
    "1234abcd-12ab-34cd-56ef-1234567890ab",                      # bare key id
    "alias/cmk-guard",                                           # alias name
    f"arn:aws:kms:{REGION}:{ACCOUNT}:key/not-a-uuid",            # malformed key id
])
def test_kms_key_arn_must_be_a_key_arn(bedrock, kb_id, bad_key):
    with pytest.raises(bedrock.exceptions.ValidationException, match="regular expression pattern"):
        make_ds(bedrock, kb_id, bad_key)


def test_id_pattern_and_unknown_ids(bedrock, kb_id):
    with pytest.raises(bedrock.exceptions.ValidationException, match=r"knowledgeBaseId"):
        bedrock.get_knowledge_base(knowledgeBaseId="short")
    with pytest.raises(bedrock.exceptions.ValidationException, match=r"dataSourceId"):
        bedrock.get_data_source(knowledgeBaseId=kb_id, dataSourceId="has-dash-9")
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_knowledge_base(knowledgeBaseId="ABCDEFGHIJ")
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_data_source(knowledgeBaseId=kb_id, dataSourceId="ABCDEFGHIJ")
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.start_ingestion_job(knowledgeBaseId="ABCDEFGHIJ", dataSourceId="ABCDEFGHIJ")


def test_generated_ids_and_arn(bedrock, kb_id):
    kb = bedrock.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]
    assert kb_id.isalnum() and kb_id.isupper() and len(kb_id) == 10
    assert kb["knowledgeBaseArn"] == f"arn:aws:bedrock:{REGION}:{ACCOUNT}:knowledge-base/{kb_id}"
    assert kb["status"] == "ACTIVE"
    ds = bedrock.get_data_source(knowledgeBaseId=kb_id, dataSourceId=make_ds(bedrock, kb_id))["dataSource"]
    assert ds["status"] == "AVAILABLE" and ds["createdAt"] <= ds["updatedAt"]


def test_name_role_and_enum_patterns(bedrock, iam, kb_id):
    with pytest.raises(bedrock.exceptions.ValidationException, match="name"):
        make_ds(bedrock, kb_id, name="bad name!")
    with pytest.raises(bedrock.exceptions.ValidationException, match="roleArn"):
        make_kb(bedrock, f"arn:aws:iam::{ACCOUNT}:user/not-a-role")
    with pytest.raises(bedrock.exceptions.ValidationException, match="enum value set"):
        make_ds(bedrock, kb_id, dataDeletionPolicy="KEEP")
    with pytest.raises(bedrock.exceptions.ValidationException, match="enum value set"):
        bedrock.create_data_source(knowledgeBaseId=kb_id, name="x", dataSourceConfiguration={"type": "FTP"})


def test_config_member_must_match_type(bedrock, kb_id):
    with pytest.raises(bedrock.exceptions.ValidationException, match="requires s3Configuration"):
        bedrock.create_data_source(knowledgeBaseId=kb_id, name="x", dataSourceConfiguration={"type": "S3"})
    with pytest.raises(bedrock.exceptions.ValidationException, match="does not accept"):
        bedrock.create_data_source(knowledgeBaseId=kb_id, name="x",
                                   dataSourceConfiguration={**S3_CONFIG, "type": "CUSTOM"})
    for kind in ("CUSTOM", "REDSHIFT_METADATA"):
        ds = bedrock.create_data_source(knowledgeBaseId=kb_id, name=kind.lower().replace("_", "-"),
                                        dataSourceConfiguration={"type": kind})["dataSource"]
        assert ds["dataSourceConfiguration"] == {"type": kind}


@pytest.mark.parametrize("config", [
    {"type": "VECTOR", "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBEDDING}},
    {"type": "KENDRA", "kendraKnowledgeBaseConfiguration": {
        "kendraIndexArn": f"arn:aws:kendra:{REGION}:{ACCOUNT}:index/" + "a" * 36}},
    {"type": "MANAGED", "managedKnowledgeBaseConfiguration": {"embeddingModelType": "MANAGED"}},
])
def test_knowledge_base_types_kept_as_given(bedrock, iam, config):
    kb = bedrock.create_knowledge_base(name="kb", roleArn=make_role(iam, "R" + config["type"]),
                                       knowledgeBaseConfiguration=config)["knowledgeBase"]
    assert kb["knowledgeBaseConfiguration"] == config


def test_tags(bedrock, kb_id):
    arn = bedrock.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]["knowledgeBaseArn"]
    bedrock.tag_resource(resourceArn=arn, tags={"team": "ml", "env": "dev"})
    bedrock.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert bedrock.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml"}
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.list_tags_for_resource(resourceArn=arn.replace(kb_id, "ZZZZZZZZZZ"))


def test_unemulated_operation_is_a_clear_error(bedrock):
    with pytest.raises(EmulatorNotImplemented, match="GetAgent"):
        bedrock.get_agent(agentId="ABCDEFGHIJ")
