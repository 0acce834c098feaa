"""Every List operation pages with maxResults/nextToken."""

from __future__ import annotations

import pytest

from .helpers import make_ds, make_kb, make_role


def _drain(call, key: str, **kwargs) -> tuple[list, int]:
    items, pages, token = [], 0, None
    while True:
        page = call(**kwargs, **({"nextToken": token} if token else {}))
        items += page[key]
        pages += 1
        token = page.get("nextToken")
        if not token:
            return items, pages


def test_knowledge_bases_and_data_sources_page(acct, bedrock, iam):
    role = make_role(iam)
    kb_ids = [make_kb(bedrock, role, name=f"kb-{i}") for i in range(23)]
    items, pages = _drain(bedrock.list_knowledge_bases, "knowledgeBaseSummaries")
    assert pages == 3 and [i["knowledgeBaseId"] for i in items] == kb_ids  # default page size 10
    items, pages = _drain(bedrock.list_knowledge_bases, "knowledgeBaseSummaries", maxResults=5)
    assert pages == 5 and len({i["knowledgeBaseId"] for i in items}) == 23

    ds_ids = [make_ds(bedrock, kb_ids[0], name=f"ds-{i}") for i in range(7)]
    paginator = bedrock.get_paginator("list_data_sources")
    pages_seen = list(paginator.paginate(knowledgeBaseId=kb_ids[0], PaginationConfig={"PageSize": 3}))
    assert len(pages_seen) == 3
    assert [d["dataSourceId"] for p in pages_seen for d in p["dataSourceSummaries"]] == ds_ids
    assert bedrock.list_data_sources(knowledgeBaseId=kb_ids[1])["dataSourceSummaries"] == []


def test_ingestion_jobs_page_and_filter(acct, bedrock, iam):
    kb_id = make_kb(bedrock, make_role(iam))
    ds_id = make_ds(bedrock, kb_id)
    job_ids = [bedrock.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)["ingestionJob"]
               ["ingestionJobId"] for _ in range(4)]
    items, pages = _drain(bedrock.list_ingestion_jobs, "ingestionJobSummaries", knowledgeBaseId=kb_id,
                          dataSourceId=ds_id, maxResults=3,
                          sortBy={"attribute": "STARTED_AT", "order": "ASCENDING"})
    assert pages == 2 and [j["ingestionJobId"] for j in items] == job_ids
    starting = bedrock.list_ingestion_jobs(knowledgeBaseId=kb_id, dataSourceId=ds_id, filters=[
        {"attribute": "STATUS", "operator": "EQ", "values": ["COMPLETE"]}])["ingestionJobSummaries"]
    assert starting == []


def test_bad_or_foreign_token_is_rejected(acct, bedrock, iam):
    role = make_role(iam)
    for i in range(3):
        make_kb(bedrock, role, name=f"kb-{i}")
    token = bedrock.list_knowledge_bases(maxResults=1)["nextToken"]
    kb_id = bedrock.list_knowledge_bases()["knowledgeBaseSummaries"][0]["knowledgeBaseId"]
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_data_sources(knowledgeBaseId=kb_id, nextToken=token)
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_knowledge_bases(nextToken="garbage")
