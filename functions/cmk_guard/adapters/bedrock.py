"""Bedrock Agent (knowledge bases and data sources): reads, the one write, and ingestion jobs."""

from __future__ import annotations

from typing import Any

from cmk_guard.adapters.aws import translated
from cmk_guard.core.models import DataSourceFacts, KnowledgeBaseFacts


class BedrockAgent:
    def __init__(self, client: Any) -> None:
        self._client = client

    def get_knowledge_base(self, knowledge_base_id: str) -> dict[str, Any]:
        with translated(f"GetKnowledgeBase {knowledge_base_id}"):
            return self._client.get_knowledge_base(knowledgeBaseId=knowledge_base_id)["knowledgeBase"]

    def list_tags(self, resource_arn: str) -> dict[str, str]:
        with translated(f"ListTagsForResource {resource_arn}"):
            return dict(self._client.list_tags_for_resource(resourceArn=resource_arn).get("tags") or {})

    def get_data_source(self, knowledge_base_id: str, data_source_id: str) -> dict[str, Any]:
        with translated(f"GetDataSource {knowledge_base_id}/{data_source_id}"):
            return self._client.get_data_source(knowledgeBaseId=knowledge_base_id, dataSourceId=data_source_id)[
                "dataSource"
            ]

    def find_data_source_id(self, knowledge_base_id: str, name: str) -> str | None:
        """Look a data source up by name (a CreateDataSource event may carry no id)."""
        with translated(f"ListDataSources {knowledge_base_id}"):
            for page in self._client.get_paginator("list_data_sources").paginate(knowledgeBaseId=knowledge_base_id):
                for summary in page.get("dataSourceSummaries", []):
                    if summary.get("name") == name:
                        return str(summary["dataSourceId"])
        return None

    def list_knowledge_bases(self, next_token: str | None, max_results: int) -> tuple[list[str], str | None]:
        """One page of knowledge base ids (the sweep reads one page per invocation)."""
        request: dict[str, Any] = {"maxResults": max_results, **({"nextToken": next_token} if next_token else {})}
        with translated("ListKnowledgeBases"):
            page = self._client.list_knowledge_bases(**request)
        return [str(s["knowledgeBaseId"]) for s in page.get("knowledgeBaseSummaries", [])], page.get("nextToken")

    def list_data_sources(
        self, knowledge_base_id: str, next_token: str | None, max_results: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a knowledge base's data source summaries (id, name, status)."""
        request: dict[str, Any] = {"knowledgeBaseId": knowledge_base_id, "maxResults": max_results}
        if next_token:
            request["nextToken"] = next_token
        with translated(f"ListDataSources {knowledge_base_id}"):
            page = self._client.list_data_sources(**request)
        return list(page.get("dataSourceSummaries", [])), page.get("nextToken")

    def update_data_source(self, request: dict[str, Any]) -> dict[str, Any]:
        with translated(f"UpdateDataSource {request.get('knowledgeBaseId')}/{request.get('dataSourceId')}"):
            return self._client.update_data_source(**request)["dataSource"]

    def start_ingestion_job(self, knowledge_base_id: str, data_source_id: str, client_token: str) -> dict[str, Any]:
        with translated(f"StartIngestionJob {knowledge_base_id}/{data_source_id}"):
            return self._client.start_ingestion_job(
                knowledgeBaseId=knowledge_base_id,
                dataSourceId=data_source_id,
                clientToken=client_token,
                description="cmk-guard: confirm the data source uses its customer-managed key",
            )["ingestionJob"]

    def get_ingestion_job(self, knowledge_base_id: str, data_source_id: str, job_id: str) -> dict[str, Any]:
        with translated(f"GetIngestionJob {job_id}"):
            return self._client.get_ingestion_job(
                knowledgeBaseId=knowledge_base_id, dataSourceId=data_source_id, ingestionJobId=job_id
            )["ingestionJob"]


def knowledge_base_facts(raw: dict[str, Any], tags: dict[str, str] | None) -> KnowledgeBaseFacts:
    return KnowledgeBaseFacts(
        knowledge_base_id=raw["knowledgeBaseId"],
        name=raw["name"],
        arn=raw["knowledgeBaseArn"],
        role_arn=raw["roleArn"],
        type=str((raw.get("knowledgeBaseConfiguration") or {}).get("type", "")),
        status=str(raw.get("status", "")),
        tags=tags or {},
        tags_readable=tags is not None,
    )


def data_source_facts(raw: dict[str, Any]) -> DataSourceFacts:
    encryption = raw.get("serverSideEncryptionConfiguration") or {}
    return DataSourceFacts(
        data_source_id=raw["dataSourceId"],
        name=raw["name"],
        type=str((raw.get("dataSourceConfiguration") or {}).get("type", "")),
        status=str(raw.get("status", "")),
        kms_key_arn=encryption.get("kmsKeyArn") or None,
    )
