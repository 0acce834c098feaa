"""A burst of data sources created at once, with throttling on, through the real state machine as written.

1,000 cannot fit CI's few minutes: every verification needs at least one LookupEvents call and the quota allows 2
per second (cmk-guard paces 0.55 s apart), so 1,000 data sources take at least 550 s of look-ups alone. The suite
runs BURST_SIZE; ``python -m cmk_guard_local.burst --data-sources 1000`` runs the full size with the same code.
"""

from __future__ import annotations

import os

import pytest

from cmk_guard_local.burst import run_burst

BURST_SIZE = int(os.environ.get("CMK_GUARD_BURST_SIZE", "150"))  # 150: 3 to 4.5 minutes on 2 cores
PER_KNOWLEDGE_BASE = 10


@pytest.mark.slow
def test_a_burst_is_remediated_each_exactly_once_within_the_lookup_quota() -> None:
    # GIVEN BURST_SIZE data sources created at once, with UpdateDataSource, GetDataSource and CreateKey throttled
    report = run_burst(BURST_SIZE, per_knowledge_base=PER_KNOWLEDGE_BASE)
    print("\n".join(report.lines()))
    knowledge_bases = -(-BURST_SIZE // PER_KNOWLEDGE_BASE)
    # THEN every one is remediated and verified, each updated exactly once, on its knowledge base's one key
    assert report.statuses == {"SUCCEEDED": BURST_SIZE}
    assert report.outcomes == {"REMEDIATED_VERIFIED": BURST_SIZE}
    assert report.updates_per_data_source == {1: BURST_SIZE}
    assert report.on_their_key == BURST_SIZE
    assert report.keys_enabled == knowledge_bases, "one key per knowledge base; alias losers are pending deletion"
    assert report.throttles_injected > 0
    # AND LookupEvents never ran faster than 2 calls in any one second, with the confirm function one at a time
    assert report.busiest_second() <= 2
    assert len(report.lookup_times) >= BURST_SIZE
    assert report.confirm_peak_concurrency == 1 and report.confirm_throttles > 0
