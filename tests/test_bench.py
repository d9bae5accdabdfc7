"""The benchmark suites run and report their keys (the ``ray`` ones on a local Ray)."""

from __future__ import annotations

import math

import pytest

from blobrl.bench import openspiel
from blobrl.bench.suites import engine, forward, search_baseline


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
    assert numbers["remote_stub_shared_memory_share"] == 1.0  # the stand-in is on this machine


def test_forward_reports_its_rate_against_a_large_matmul():
    numbers = forward(quick=True)
    assert numbers["forward_evals_per_s"] > 0
    assert math.isfinite(numbers["forward_vs_gemm"]) and numbers["forward_vs_gemm"] > 0


def test_engine_reports_the_api_against_openspiel_driven_the_same_way():
    pytest.importorskip("pyspiel", reason="open_spiel (dev extra) has wheels for Linux x86_64 only")
    numbers = engine(quick=True)
    assert numbers["engine_games_per_s"] > numbers["engine_api_games_per_s"] > 100
    assert numbers["openspiel_api_games_per_s"] > 100
    ratio = numbers["engine_api_games_per_s"] / numbers["openspiel_api_games_per_s"]
    assert numbers["engine_api_vs_openspiel"] == pytest.approx(ratio)
    assert "openspiel_skipped" not in numbers


def test_openspiel_plays_the_same_hand_size_one_move_per_call():
    """The reference is 5 bids and 35 cards a hand, like blobrl's 5x7; its other moves are the
    chance moves of dealing."""
    pyspiel = pytest.importorskip("pyspiel", reason="open_spiel has wheels for Linux x86_64 only")
    state = openspiel.openspiel_game(5, 7).new_initial_state()
    moves = 0
    while not state.is_terminal():
        if state.current_player() != pyspiel.PlayerId.CHANCE:
            moves += 1
        state.apply_action(state.legal_actions()[0])
    assert moves == 5 + 5 * 7


def test_without_openspiel_the_comparison_is_null_with_its_reason(monkeypatch):
    def missing(players, cards):
        raise ImportError("OpenSpiel is not installed (no module named 'pyspiel')")

    monkeypatch.setattr(openspiel, "openspiel_game", missing)
    numbers = openspiel.compare(5, 7, rounds=1, seconds=0.05)
    assert numbers["engine_api_games_per_s"] > 100
    assert numbers["openspiel_api_games_per_s"] is None
    assert numbers["engine_api_vs_openspiel"] is None
    assert "not installed" in str(numbers["openspiel_skipped"])
