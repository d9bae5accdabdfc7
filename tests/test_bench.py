"""The benchmark suites run and report their keys (the ``ray`` ones on a local Ray)."""

from __future__ import annotations

import math

import pytest

from blobrl.bench.suites import forward, search_baseline


def test_search_baseline_reports_its_keys():
    numbers = search_baseline(quick=True)
    assert numbers["ismcts_sims_per_s"] > 1_000
    assert 0 < numbers["model_agent_s_per_decision_1k"] < 5
    assert 0 < numbers["model_agent_worlds_s_per_decision_1k"] < 30
    # a hand's decisions at 2,500 simulations cost more than one decision at 1,000
    assert numbers["laptop_play_s_per_hand"] > numbers["model_agent_s_per_decision_1k"]


@pytest.mark.ray
def test_remote_stub_reports_its_keys():
    from blobrl.bench.suites import SUITES

    numbers = SUITES["remote"](quick=True)
    assert numbers["remote_stub_groups"] >= 2 and numbers["remote_stub_latency_ms"] == 2.0
    for key in (
        "remote_stub_local_games_per_min",
        "remote_stub_one_group_games_per_min",
        "remote_stub_games_per_min",
    ):
        assert numbers[key] > 0
    ratio = numbers["remote_stub_games_per_min"] / numbers["remote_stub_local_games_per_min"]
    assert numbers["remote_stub_vs_local_stub"] == pytest.approx(ratio)
    assert numbers["remote_stub_512_vs_local_stub_512"] > 0


def test_forward_reports_its_rate_against_a_large_matmul():
    numbers = forward(quick=True)
    assert numbers["forward_evals_per_s"] > 0
    assert math.isfinite(numbers["forward_vs_gemm"]) and numbers["forward_vs_gemm"] > 0
