"""Gauntlet: a network against random and heuristic on fixed duplicate deals, in the evaluator."""

from __future__ import annotations

import json

import pytest
import torch

from blobrl.actors.evaluator import EvaluatorService
from blobrl.agents import HeuristicAgent, RandomAgent
from blobrl.evaluation.gauntlet import (
    gauntlet_edges,
    gauntlet_sizes,
    opponent_factory,
    run_gauntlet,
)
from blobrl.mcts import SearchSettings
from blobrl.nn import NetworkConfig, build_network, state_dict_to_bytes

TINY = NetworkConfig(hidden=16, blocks=1)
QUICK = SearchSettings(
    determinizations=1,
    simulations=4,
    root="gumbel",
    gumbel_actions=4,
    dirichlet_weight=0.0,
    temperature=0.0,
    final_temperature=0.0,
)


def _weights(seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    return state_dict_to_bytes(build_network(TINY).state_dict())


def test_sizes_are_the_reference_and_the_main_deal_once_each():
    assert gauntlet_sizes((5, 7)) == [(5, 7)]
    assert gauntlet_sizes((4, 6)) == [(5, 7), (4, 6)]


def test_heuristic_beats_random_in_the_gauntlet_and_the_verdict_says_so():
    result = run_gauntlet(HeuristicAgent(), sizes=[(4, 5)], deals=30, opponents=["random"])
    match = result.match("random", 4, 5)
    assert match.deals == 30
    assert match.score > match.opponent_score
    assert match.verdict == "better"


def test_an_agent_against_its_own_kind_is_tied_on_every_deal():
    result = run_gauntlet(HeuristicAgent(), sizes=[(4, 3)], deals=8, opponents=["heuristic"])
    match = result.match("heuristic", 4, 3)
    assert match.diff == 0.0 and match.verdict == "tied"


def test_the_same_seed_plays_the_same_deals():
    first = run_gauntlet(RandomAgent(3), sizes=[(4, 3)], deals=6, opponents=["heuristic"])
    again = run_gauntlet(RandomAgent(3), sizes=[(4, 3)], deals=6, opponents=["heuristic"])
    assert first.matches == again.matches


def test_unknown_opponents_and_empty_gauntlets_are_refused():
    with pytest.raises(ValueError, match="unknown gauntlet opponents"):
        run_gauntlet(RandomAgent(0), sizes=[(4, 3)], deals=2, opponents=["nobody"])
    with pytest.raises(ValueError, match="deals"):
        run_gauntlet(RandomAgent(0), sizes=[(4, 3)], deals=0)


def test_evaluator_service_gauntlet_reports_both_opponents_at_both_sizes():
    service = EvaluatorService(
        TINY,
        QUICK,
        deals=[(4, 3), (5, 7)],
        arena_deals=2,
        gauntlet_deals=2,
        torch_threads=None,
    )
    report = service.gauntlet(_weights(), iteration=5).to_dict()
    assert report["iteration"] == 5
    rows = {(m["opponent"], m["players"], m["cards"]): m for m in report["matches"]}
    assert set(rows) == {
        ("random", 5, 7),
        ("heuristic", 5, 7),
        ("random", 4, 3),
        ("heuristic", 4, 3),
    }
    for row in rows.values():
        assert row["deals"] == 2
        assert row["verdict"] in ("better", "worse", "tied")
        assert row["diff"] == pytest.approx(row["score"] - row["opponent_score"])
    json.dumps(report, allow_nan=False)  # storable as is in a history and served by the API


def test_one_deal_gauntlet_has_no_interval_but_stays_json():
    service = EvaluatorService(
        TINY, QUICK, deals=[(4, 3)], arena_deals=1, gauntlet_deals=1, torch_threads=None
    )
    service.main_deal = (4, 3)
    report = service.gauntlet(_weights(1), iteration=1).to_dict()
    assert all(m["diff_ci95"] is None for m in report["matches"])
    json.dumps(report, allow_nan=False)


def test_search_baselines_are_named_by_their_budget():
    assert opponent_factory("ismcts:25")(3).name == "ismcts:25"
    for bad in ("ismcts", "ismcts:0", "ismcts:x", "heuristic:5", "nobody"):
        assert opponent_factory(bad) is None
    with pytest.raises(ValueError, match=r"unknown gauntlet opponents \['ismcts:0'\]"):
        run_gauntlet(RandomAgent(0), sizes=[(4, 3)], deals=2, reference_opponents=["ismcts:0"])


def test_reference_opponents_play_the_first_size_only_and_every_match_gives_an_edge():
    result = run_gauntlet(
        HeuristicAgent(),
        sizes=[(4, 2), (3, 2)],
        deals=3,
        opponents=["random"],
        reference_opponents=["ismcts:8"],
        iteration=4,
    )
    assert [(m.opponent, m.players, m.cards) for m in result.matches] == [
        ("random", 4, 2),
        ("ismcts:8", 4, 2),
        ("random", 3, 2),
    ]
    report = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    edges = gauntlet_edges(report, "iter_4")
    assert [(e.a, e.b, e.players, e.iteration, e.kind) for e in edges] == [
        ("iter_4", "random", 4, 4, "gauntlet"),
        ("iter_4", "ismcts:8", 4, 4, "gauntlet"),
        ("iter_4", "random", 3, 4, "gauntlet"),
    ]
    for e, m in zip(edges, result.matches, strict=True):
        assert e.share == m.share and e.share_se == m.share_se and e.deals == 3
        assert 0 <= e.share <= 1
    # An older report, without shares, gives no edges.
    for row in report["matches"]:
        row.pop("share")
    assert gauntlet_edges(report, "iter_4") == []


def test_evaluator_service_gauntlet_plays_the_ismcts_budgets_at_5x7():
    service = EvaluatorService(
        TINY, QUICK, deals=[(4, 3)], arena_deals=1, gauntlet_deals=1, gauntlet_ismcts=[4],
        torch_threads=None,
    )  # fmt: skip
    report = service.gauntlet(_weights(2), iteration=3).to_dict()
    rows = {(m["opponent"], m["players"], m["cards"]) for m in report["matches"]}
    assert ("ismcts:4", 5, 7) in rows and ("ismcts:4", 4, 3) not in rows
    assert all(m["share_se"] is None for m in report["matches"])  # one deal: no interval
