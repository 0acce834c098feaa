"""The sweep's finding is a second kind of event: parsed into the same DataSourceEvent, refused when malformed."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from cmk_guard.core.events import SWEEP_EVENT_NAME, parse_event, sweep_event
from cmk_guard.errors import InvalidEventError

KB, DS = "KB12345678", "DS12345678"
OBSERVED = datetime(2026, 11, 29, 6, 30, tzinfo=UTC)


def finding() -> dict:
    return sweep_event("111122223333", "eu-west-1", KB, DS, "3f0c3a2e-6d7b", OBSERVED)


def test_a_sweep_finding_parses_into_the_same_event() -> None:
    parsed = parse_event(finding())
    assert (parsed.account_id, parsed.region) == ("111122223333", "eu-west-1")
    assert (parsed.knowledge_base_id, parsed.data_source_id, parsed.data_source_name) == (KB, DS, None)
    assert parsed.event_name == SWEEP_EVENT_NAME
    assert parsed.event_time == OBSERVED, "the time to remediate counts from when the sweep saw it"


def test_the_event_id_is_one_per_sweep_and_data_source() -> None:
    first, again = parse_event(finding()), parse_event(finding())
    assert first.event_id == again.event_id == f"sweep-3f0c3a2e-6d7b-{KB}-{DS}"
    other_sweep = sweep_event("111122223333", "eu-west-1", KB, DS, "next-sweep", OBSERVED)
    other_source = sweep_event("111122223333", "eu-west-1", KB, "DS87654321", "3f0c3a2e-6d7b", OBSERVED)
    assert len({first.event_id, parse_event(other_sweep).event_id, parse_event(other_source).event_id}) == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e["detail"].update(knowledgeBaseId="../../etc"), "knowledgeBaseId"),
        (lambda e: e["detail"].update(dataSourceId="DS'; DROP--"), "dataSourceId"),
        (lambda e: e["detail"].update(sweepId="has spaces"), "sweepId"),
        (lambda e: e["detail"].update(sweepId="x" * 41), "sweepId"),
        (lambda e: e["detail"].update(observedAt="2026-11-29T06:30:00"), "observedAt"),
        (lambda e: e["detail"].update(accountId="1234"), "accountId"),
        (lambda e: e["detail"].update(kmsKeyArn="arn:aws:kms:..."), "kmsKeyArn"),
        (lambda e: e["detail"].pop("dataSourceId"), "dataSourceId"),
        (lambda e: e.update({"detail-type": "Something else"}), "detail-type"),
        (lambda e: e.update(extra=1), "extra"),
    ],
)
def test_a_malformed_sweep_finding_is_refused_with_the_reason(mutate, message: str) -> None:
    bad = copy.deepcopy(finding())
    mutate(bad)
    with pytest.raises(InvalidEventError, match=message) as error:
        parse_event(bad)
    assert "sweep finding" in str(error.value)
