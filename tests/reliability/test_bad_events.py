"""Malformed, truncated, oversized and hostile CloudTrail events: a clear validation error, never a crash or a retry."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmk_guard.core.events import parse_event
from cmk_guard.errors import InvalidEventError

ACCOUNT, REGION = "123456789012", "us-east-1"
HOSTILE = [
    "<script>alert(1)</script>", "'; DROP TABLE ledger; --", "${jndi:ldap://x/a}", "../../etc/passwd", "\u0000\u202e",
    "{{7*7}}", "$(reboot)", "A" * 100_000, "KB1234567\n", "arn:aws:iam::*:role/*",
]


def valid_event() -> dict:
    return {
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.bedrock", "account": ACCOUNT, "time": "2026-11-29T06:00:01Z", "region": REGION, "resources": [],
        "detail": {
            "eventVersion": "1.09", "eventID": "0c9b5a1e-8d35-4a8e-9a53-5d2b1f9c7e01", "eventName": "UpdateDataSource",
            "eventSource": "bedrock.amazonaws.com", "eventTime": "2026-11-29T06:00:00Z", "awsRegion": REGION,
            "recipientAccountId": ACCOUNT,
            "requestParameters": {"knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678", "name": "docs"},
            "responseElements": {"dataSource": {"knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678"}},
        },
    }


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.sampled_from(HOSTILE),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=20,
)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))


@st.composite
def mutated_events(draw) -> dict:
    """A valid event with one to three members replaced, removed or given the wrong type."""
    event = valid_event()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(event) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return event


def _parse(event, **kwargs):
    try:
        return parse_event(event, size_hint=len(json.dumps(event, default=str)), **kwargs)
    except InvalidEventError as exc:
        assert str(exc), "the error must say why"
        return None


@settings(max_examples=400, deadline=None)
@given(event=mutated_events())
def test_mutated_events_only_ever_raise_invalid_event_error(event) -> None:
    parsed = _parse(event, home_account=ACCOUNT, home_region=REGION)
    if parsed is not None:  # what passes names this account and region and well-formed ids only
        assert (parsed.account_id, parsed.region) == (ACCOUNT, REGION)
        assert parsed.knowledge_base_id.isalnum() and len(parsed.knowledge_base_id) == 10


@settings(max_examples=300, deadline=None)
@given(event=JSON)
def test_arbitrary_json_only_ever_raises_invalid_event_error(event) -> None:
    assert _parse(event) is None or isinstance(event, dict)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, len(json.dumps(valid_event())) - 1))
def test_truncated_event_text_is_refused(cut) -> None:
    text = json.dumps(valid_event())[:cut]
    try:
        event = json.loads(text)
    except ValueError:
        event = text  # what arrives is a string, not an object
    assert _parse(event) is None


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["knowledgeBaseId", "dataSourceId", "name"])
def test_hostile_strings_in_ids_and_names_are_refused(field, value) -> None:
    event = valid_event()
    event["detail"]["requestParameters"][field] = value
    with pytest.raises(InvalidEventError):
        parse_event(event, size_hint=len(json.dumps(event)))


def test_an_oversized_event_is_refused_before_validation() -> None:
    event = valid_event()
    event["detail"]["requestParameters"]["description"] = "x" * 300_000
    with pytest.raises(InvalidEventError, match="over the"):
        parse_event(event, size_hint=len(json.dumps(event)))


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [("recipientAccountId", "210987654321", "handles account"), ("awsRegion", "eu-west-1", "handles us-east-1")],
)
def test_events_for_another_account_or_region_are_refused(member, value, message) -> None:
    event = valid_event()
    event["detail"][member] = value
    if member == "recipientAccountId":
        event["account"] = value  # forwarded from another account's bus: envelope and record agree
    else:
        event["region"] = value
    assert parse_event(event).account_id == event["account"]  # the parser alone takes it ...
    with pytest.raises(InvalidEventError, match=message):  # ... the stack's own account and region refuse it
        parse_event(event, home_account=ACCOUNT, home_region=REGION)


BAD_THROUGH_THE_WORKFLOW = {
    "hostile id": lambda e: e["detail"]["requestParameters"].update(knowledgeBaseId="<script>"),
    "missing event id": lambda e: e["detail"].pop("eventID"),
    "wrong type": lambda e: e["detail"].update(requestParameters=["KB12345678"]),
    "other account": lambda e: (e.update(account="210987654321"), e["detail"].update(recipientAccountId="210987654321")),
    "other region": lambda e: (e.update(region="eu-west-1"), e["detail"].update(awsRegion="eu-west-1")),
}


def test_bad_events_through_the_workflow_fail_once_recorded_and_notified_once(account, manual_stack) -> None:
    stack = manual_stack
    executions = {}
    for label, spoil in BAD_THROUGH_THE_WORKFLOW.items():
        event = copy.deepcopy(valid_event())
        spoil(event)
        event["detail"]["eventID" if "eventID" in event["detail"] else "x"] = f"bad-{len(executions)}"
        executions[label] = stack.start(event)
    for label, execution in executions.items():
        # THEN each fails once, with a validation error; the Check ran once (never retried), then RecordOutcome
        assert stack.wait(execution)["status"] == "FAILED", label
        scheduled = [e for e in stack.history(execution) if e["type"] == "LambdaFunctionScheduled"]
        assert len(scheduled) == 2, label
    outcomes = stack.outcomes()
    assert sorted(o["executionArn"] for o in outcomes) == sorted(executions.values())
    assert all(o["outcome"] == "FAILED" and o["reason"].startswith("InvalidEventError:") for o in outcomes)
    reasons = {label: next(o["reason"] for o in outcomes if o["executionArn"] == arn) for label, arn in executions.items()}
    assert "210987654321" in reasons["other account"] and "eu-west-1" in reasons["other region"]
    assert len(stack.notifications()) == len(executions)
    roles = set(stack.role_arns.values())
    assert not [c for c in account.calls if c.principal in roles and c.service in {"bedrock-agent", "kms"}]
