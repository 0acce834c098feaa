"""The CloudTrail event parser takes ids only, and refuses anything malformed with a clear reason."""

from __future__ import annotations

import copy

import pytest

from cmk_guard.core.events import parse_event
from cmk_guard.errors import InvalidEventError

KB, DS = "KB12345678", "DS12345678"


def event(name: str = "UpdateDataSource", **detail_overrides: object) -> dict:
    detail = {
        "eventVersion": "1.09",
        "eventID": "0c9b5a1e-8d35-4a8e-9a53-5d2b1f9c7e01",
        "eventName": name,
        "eventSource": "bedrock.amazonaws.com",
        "eventTime": "2026-11-29T06:00:00Z",
        "awsRegion": "eu-west-1",
        "recipientAccountId": "111122223333",
        "requestParameters": {"knowledgeBaseId": KB, "dataSourceId": DS, "name": "docs"},
        "responseElements": {"dataSource": {"knowledgeBaseId": KB, "dataSourceId": DS}},
    }
    detail.update(detail_overrides)
    return {
        "version": "0",
        "id": "e1",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.bedrock",
        "account": "111122223333",
        "time": "2026-11-29T06:00:01Z",
        "region": "eu-west-1",
        "detail": detail,
    }


def test_update_takes_ids_from_request_parameters() -> None:
    parsed = parse_event(event())
    assert (parsed.knowledge_base_id, parsed.data_source_id) == (KB, DS)
    assert parsed.account_id == "111122223333" and parsed.region == "eu-west-1"
    assert parsed.event_time.year == 2026


def test_create_takes_the_id_from_the_response() -> None:
    e = event("CreateDataSource", requestParameters={"knowledgeBaseId": KB, "name": "docs"})
    assert parse_event(e).data_source_id == DS


def test_create_without_response_falls_back_to_the_name() -> None:
    e = event("CreateDataSource", requestParameters={"knowledgeBaseId": KB, "name": "docs"}, responseElements=None)
    parsed = parse_event(e)
    assert parsed.data_source_id is None and parsed.data_source_name == "docs"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e["detail"].pop("eventID"), "eventID"),
        (lambda e: e["detail"]["requestParameters"].update(knowledgeBaseId="../../etc"), "knowledgeBaseId"),
        (lambda e: e["detail"]["requestParameters"].update(dataSourceId="DS'; DROP--"), "dataSourceId"),
        (lambda e: e["detail"].update(eventName="DeleteDataSource"), "DeleteDataSource"),
        (lambda e: e["detail"].update(eventSource="kms.amazonaws.com"), "eventSource"),
        (lambda e: e["detail"].update(errorCode="AccessDenied"), "failed"),
        (lambda e: e["detail"].update(recipientAccountId="999999999999"), "differs"),
        (lambda e: e["detail"]["requestParameters"].pop("dataSourceId"), "dataSourceId"),
        (lambda e: e["detail"].update(eventTime="yesterday"), "eventTime"),
        (lambda e: e.pop("detail"), "detail"),
    ],
)
def test_malformed_events_are_refused_with_the_reason(mutate, message: str) -> None:
    bad = copy.deepcopy(event())
    mutate(bad)
    with pytest.raises(InvalidEventError, match=message):
        parse_event(bad)


@pytest.mark.parametrize("value", [None, [], "text", 42])
def test_non_objects_are_refused(value: object) -> None:
    with pytest.raises(InvalidEventError, match="JSON object"):
        parse_event(value)
