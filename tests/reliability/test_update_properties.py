"""Loss-free updates, property-based: every generated configuration round-trips with only the key changed, and
anything the update would have to drop or alter stops the workflow before it writes."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmk_guard.core.models import Target
from cmk_guard.core.update_plan import CARRIED_FIELDS, REDACTION_MARKERS, STATE_FIELDS, changed_fields, plan_update
from cmk_guard.errors import UnsafeUpdateError
from cmk_guard.steps.apply import run_apply

from .strategies import CONFIGURATIONS, data_source_request

FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
REDACTED = next(iter(REDACTION_MARKERS))


@pytest.fixture
def kb_and_key(account, estate) -> tuple[str, str]:
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    return kb["knowledgeBaseId"], estate.customer_key([role])


@pytest.mark.parametrize("data_source_type", sorted(CONFIGURATIONS))
@settings(parent=FIXTURES_OK, max_examples=40)
@given(data=st.data())
def test_every_configuration_round_trips_with_only_the_key_changed(account, kb_and_key, data_source_type, data) -> None:
    # GIVEN a data source created with a generated configuration of this type
    kb_id, key_arn = kb_and_key
    agent = boto3.client("bedrock-agent", region_name=account.region)
    request = data.draw(data_source_request(data_source_type))
    created = agent.create_data_source(knowledgeBaseId=kb_id, **request)["dataSource"]
    before = agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=created["dataSourceId"])["dataSource"]
    # WHEN the real plan is sent through the emulated UpdateDataSource
    update = plan_update(before, key_arn)
    agent.update_data_source(**update)
    after = agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=created["dataSourceId"])["dataSource"]
    # THEN every field read is sent back exactly, and afterwards only the key differs
    assert {f: update[f] for f in CARRIED_FIELDS if f in update} == {f: before[f] for f in CARRIED_FIELDS if f in before}
    assert changed_fields(before, after) == []
    assert after["serverSideEncryptionConfiguration"] == {"kmsKeyArn": key_arn}
    for field in ("name", "dataSourceConfiguration", "description", "dataDeletionPolicy", "vectorIngestionConfiguration"):
        if field in request:
            assert json.dumps(after[field], sort_keys=True) == json.dumps(request[field], sort_keys=True)


def _string_leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_leaves(v, (*path, i))]
    return []


def _set(document: dict, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        document = document[step]
    document[path[-1]] = value


class _Bedrock:
    """A data source read that returns ``current`` and records any write."""

    def __init__(self, current: dict[str, Any]) -> None:
        self.current, self.updates = current, []

    def get_data_source(self, *_: str) -> dict[str, Any]:
        return copy.deepcopy(self.current)

    def update_data_source(self, request: dict[str, Any]) -> dict[str, Any]:
        self.updates.append(request)
        return request


class _Ledger:
    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    def save_previous_configuration(self, target: Target, execution_arn: str, configuration: dict[str, Any]) -> None:
        self.saved.append(configuration)


def _read(request: dict[str, Any]) -> dict[str, Any]:
    """What GetDataSource would return for a data source created with ``request``."""
    return {"knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678", "status": "AVAILABLE", **copy.deepcopy(request)}


TARGET = Target(
    account_id="123456789012", region="us-east-1", knowledge_base_id="KB12345678", data_source_id="DS12345678",
    event_id="e-1", event_name="CreateDataSource", event_time="2026-11-29T06:00:00Z",
)
KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
KNOWN = set(CARRIED_FIELDS) | STATE_FIELDS


def _refused_without_writing(current: dict[str, Any]) -> str:
    bedrock, ledger = _Bedrock(current), _Ledger()
    with pytest.raises(UnsafeUpdateError) as refused:
        run_apply(TARGET, KEY, None, "arn:aws:states:us-east-1:123456789012:execution:m:x", bedrock, ledger)
    assert bedrock.updates == [] and ledger.saved == [], "nothing may be written"
    return str(refused.value)


@settings(deadline=None, max_examples=150)
@given(
    request=st.sampled_from(sorted(CONFIGURATIONS)).flatmap(data_source_request),
    unknown=st.dictionaries(st.text(min_size=1, max_size=30).filter(lambda k: k not in KNOWN), st.none() | st.text(), min_size=1, max_size=3),
)
def test_a_field_the_update_cannot_carry_stops_it_before_writing(request, unknown) -> None:
    message = _refused_without_writing({**_read(request), **unknown})
    assert all(repr(name) in message for name in unknown)


@settings(deadline=None, max_examples=150)
@given(request=st.sampled_from(sorted(CONFIGURATIONS)).flatmap(data_source_request), data=st.data())
def test_a_redacted_value_stops_the_update_before_writing(request, data) -> None:
    current = _read(request)
    carried = {f: current[f] for f in CARRIED_FIELDS if f in current}
    path = data.draw(st.sampled_from(_string_leaves(carried)))
    _set(current, path, REDACTED)
    message = _refused_without_writing(current)
    assert "redacted" in message and str(path[0]) in message


REDACTABLE = {
    "description": ("description",),
    "web filter": ("dataSourceConfiguration", "webConfiguration", "crawlerConfiguration", "inclusionFilters", 0),
    "parsing prompt": (
        "vectorIngestionConfiguration", "parsingConfiguration", "bedrockFoundationModelConfiguration", "parsingPrompt", "parsingPromptText",
    ),
}


def test_redacted_configuration_fails_the_workflow_with_nothing_written(account, estate, manual_stack) -> None:
    stack = manual_stack
    configuration = {
        "type": "WEB",
        "webConfiguration": {
            "sourceConfiguration": {"urlConfiguration": {"seedUrls": [{"url": "https://docs.example.com/"}]}},
            "crawlerConfiguration": {"inclusionFilters": [".*/docs/.*"]},
        },
    }
    vector = {
        "chunkingConfiguration": {"chunkingStrategy": "NONE"},
        "parsingConfiguration": {
            "parsingStrategy": "BEDROCK_FOUNDATION_MODEL",
            "bedrockFoundationModelConfiguration": {
                "modelArn": f"arn:aws:bedrock:{account.region}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
                "parsingPrompt": {"parsingPromptText": "Transcribe tables as Markdown."},
            },
        },
    }
    for index, (label, path) in enumerate(REDACTABLE.items()):
        # GIVEN a data source whose read comes back with one value redacted
        kb = estate.knowledge_base(f"kb-{index}", estate.kb_role(f"role-{index}"))
        ds = estate.data_source(kb["knowledgeBaseId"], "docs", configuration, vector_ingestion=vector, description="crawled docs")
        stored = account.bedrock._store(account.account_id, account.region).sources[kb["knowledgeBaseId"]][ds["dataSourceId"]]
        _set(stored, path, REDACTED)
        # WHEN its CloudTrail event reaches the workflow
        record = next(r for r in reversed(account.cloudtrail.events) if r["eventName"] == "CreateDataSource")
        execution = stack.deliver(record).execution_arn
        # THEN the workflow fails once, says which field, and writes nothing to the data source
        assert stack.wait(execution)["status"] == "FAILED", label
        (outcome,) = [o for o in stack.outcomes() if o["executionArn"] == execution]
        assert outcome["outcome"] == "FAILED" and "redacted" in outcome["reason"] and path[0] in outcome["reason"], label
    roles = set(stack.role_arns.values())
    assert not [c for c in account.calls if c.principal in roles and c.operation in {"UpdateDataSource", "CreateKey"}]
    assert len(stack.notifications()) == len(REDACTABLE)
