"""The benchmark suites that need no Ray run and report their keys."""

from __future__ import annotations

from blobrl.bench.suites import search_baseline


def test_search_baseline_reports_its_keys():
    numbers = search_baseline(quick=True)
    assert numbers["ismcts_sims_per_s"] > 1_000
    assert 0 < numbers["model_agent_s_per_decision_1k"] < 5
    assert 0 < numbers["model_agent_worlds_s_per_decision_1k"] < 30
