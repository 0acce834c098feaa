"""Builders shared by the emulator tests."""

from __future__ import annotations

import json
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
EMBEDDING = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
S3_CONFIG = {"type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::kb-docs", "inclusionPrefixes": ["docs/"]}}


def make_role(iam: Any, name: str = "AmazonBedrockExecutionRoleForKB_demo", path: str = "/service-role/") -> str:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    return iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def key_policy(*statements: dict) -> str:
    admin = {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
             "Action": "kms:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [admin, *statements]})


def allow(principal: Any, actions: Any = ("kms:GenerateDataKey", "kms:Decrypt"), **extra: Any) -> dict:
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": list(actions) if not isinstance(
        actions, str) else actions, "Resource": "*", **extra}


def make_key(kms: Any, policy: str | None) -> str:
    kwargs = {"Policy": policy} if policy else {}
    return kms.create_key(**kwargs)["KeyMetadata"]["Arn"]


def make_kb(bedrock: Any, role_arn: str, name: str = "kb-demo") -> str:
    return bedrock.create_knowledge_base(
        name=name, roleArn=role_arn,
        knowledgeBaseConfiguration={"type": "VECTOR",
                                    "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBEDDING}},
    )["knowledgeBase"]["knowledgeBaseId"]


def make_ds(bedrock: Any, kb_id: str, key_arn: str | None = None, name: str = "docs", **extra: Any) -> str:
    kwargs: dict[str, Any] = {"knowledgeBaseId": kb_id, "name": name, "dataSourceConfiguration": S3_CONFIG, **extra}
    if key_arn:
        kwargs["serverSideEncryptionConfiguration"] = {"kmsKeyArn": key_arn}
    return bedrock.create_data_source(**kwargs)["dataSource"]["dataSourceId"]


def run_ingestion(bedrock: Any, kb_id: str, ds_id: str, polls: int = 5) -> dict:
    job = bedrock.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)["ingestionJob"]
    for _ in range(polls):
        job = bedrock.get_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id,
                                        ingestionJobId=job["ingestionJobId"])["ingestionJob"]
        if job["status"] in ("COMPLETE", "FAILED"):
            return job
    return job
