"""The benchmark's pure parts: cost arithmetic, round-trip counting, required keys and table rendering."""

from __future__ import annotations

import pytest

from cmk_guard_local.bench.pricing import ExecutionCounts, cost_per_1000, round_trips
from cmk_guard_local.bench.render import table, verdict
from cmk_guard_local.bench.strategies import SampleEstate


def test_cost_per_1000_prices_each_part() -> None:
    # GIVEN 18 transitions, 8 invocations of 256 MB for 0.25 s, 5 KMS requests and one new key per execution
    cost = cost_per_1000(ExecutionCounts(18, 8, 5, 1), memory_mb=256, seconds_per_invocation=0.25)
    # THEN each part follows its unit price
    assert cost.step_functions == pytest.approx(18 * 0.025)
    assert cost.lambda_requests == pytest.approx(8_000 * 0.20 / 1e6)
    assert cost.lambda_compute == pytest.approx(8_000 * 0.25 * 0.25 * 0.0000166667)
    assert cost.kms_requests == pytest.approx(5_000 * 0.03 / 10_000)
    assert cost.keys_per_month == pytest.approx(1_000.0)
    assert cost.per_1000 == pytest.approx(0.45 + 0.0016 + 0.00833335 + 0.015)


def test_cost_refuses_nonsense_inputs() -> None:
    with pytest.raises(ValueError):
        cost_per_1000(ExecutionCounts(1, 1, 1, 0), memory_mb=0, seconds_per_invocation=1)


def test_overlapping_calls_count_as_one_round_trip() -> None:
    assert round_trips([(0, 1), (1, 2), (2, 3)]) == 3  # back to back: sequential
    assert round_trips([(0, 1), (0.1, 0.9), (0.5, 1.5), (2, 3)]) == 2
    assert round_trips([]) == 0


def test_required_keys_per_strategy() -> None:
    estate = SampleEstate(knowledge_bases=14, roles=3, tenants=5, untagged_every=7)
    assert estate.required("per-knowledge-base") == 14
    assert estate.required("per-role") == 3
    assert estate.required("per-tag") == 5 + 2  # knowledge bases 0 and 7 are untagged: a key each
    assert estate.required("existing") == 0
    with pytest.raises(ValueError):
        estate.required("per-moon")


def test_table_renders_markdown() -> None:
    text = table(["Path", "Calls", "Met"], [["new|key", 22, True], ["reused", 20, False]])
    assert text.splitlines() == [
        "| Path | Calls | Met |",
        "|---|---:|---|",
        "| new\\|key | 22 | yes |",
        "| reused | 20 | no |",
    ]
    assert (verdict(True), verdict(False), verdict(None)) == ("met", "**not met**", "n/a")


def test_sweep_minimum_is_one_list_call_per_page_and_one_read_per_data_source() -> None:
    from cmk_guard_local.bench.sweep import minimum_calls
    from cmk_guard_local.sweep_estate import SweepEstate

    # 120 knowledge bases (3 pages of 50); kb 0, 20, ... have 29 data sources (2 pages of 25), the rest 9; one empty
    estate = SweepEstate(knowledge_bases=120)
    assert estate.sizes().count(29) == 6
    assert minimum_calls(estate) == {
        "bedrock-agent:ListKnowledgeBases": 3,
        "bedrock-agent:ListDataSources": 6 * 2 + 114,
        "bedrock-agent:GetDataSource": 6 * 29 + 114 * 9,
    }
    assert minimum_calls(SweepEstate(knowledge_bases=1, small_size=0, large_size=0))["bedrock-agent:ListDataSources"] == 1
