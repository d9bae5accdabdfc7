"""Duplicate-deal matches: seat rotation pairs deals, intervals shrink, the heuristic wins."""

from __future__ import annotations

import pytest
import torch

from blobrl.agents import HeuristicAgent, ModelAgent, RandomAgent, play_settings
from blobrl.evaluation.match import make_deals, play_duplicate
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network


def test_an_agent_against_itself_differs_by_exactly_zero_on_every_deal():
    result = play_duplicate(HeuristicAgent(), HeuristicAgent(), make_deals(5, 4, 12, seed=3))
    assert result.plays == 12 * 5
    assert result.per_deal_diff == (0.0,) * 12
    assert result.tied == 12 and result.diff_mean == 0.0
    assert result.agent.mean_score == pytest.approx(result.opponents.mean_score)


def test_every_deal_is_played_once_per_seat():
    result = play_duplicate(HeuristicAgent(), RandomAgent(0), make_deals(4, 3, 5, seed=1))
    assert result.plays == 20
    assert result.agent.hands == 20 and result.opponents.hands == 60


def test_interval_shrinks_with_more_deals():
    small = play_duplicate(HeuristicAgent(), RandomAgent(0), make_deals(4, 4, 10, seed=5))
    large = play_duplicate(HeuristicAgent(), RandomAgent(0), make_deals(4, 4, 90, seed=5))
    assert large.diff_ci95 < small.diff_ci95
    assert large.agent.ci95 < small.agent.ci95


@pytest.mark.parametrize(("players", "cards", "deals"), [(4, 6, 60), (5, 7, 50), (6, 7, 40)])
def test_heuristic_clearly_beats_random(players, cards, deals):
    result = play_duplicate(
        HeuristicAgent(), RandomAgent(11), make_deals(players, cards, deals, seed=2)
    )
    assert result.agent.mean_score > result.opponents.mean_score
    assert result.diff_mean - result.diff_ci95 > 0
    assert result.agent.exact_rate > result.opponents.exact_rate
    assert result.agent.mean_bid_error < result.opponents.mean_bid_error


def test_search_agents_play_batched_matches():
    torch.manual_seed(0)
    evaluator = TorchEvaluator(build_network(NetworkConfig(hidden=16, blocks=1)))
    agent = ModelAgent(evaluator, settings=play_settings(2, 6))
    result = play_duplicate(agent, HeuristicAgent(), make_deals(4, 3, 6, seed=0))
    assert result.plays == 24 and result.agent.hands == 24


def test_per_deal_scores_are_each_sides_mean_per_hand_and_give_the_differences():
    result = play_duplicate(HeuristicAgent(), RandomAgent(4), make_deals(4, 3, 9, seed=8))
    a, o = result.per_deal_agent, result.per_deal_opponents
    assert len(a) == len(o) == 9
    assert result.per_deal_diff == pytest.approx([x - y for x, y in zip(a, o, strict=True)])
    assert sum(a) / 9 == pytest.approx(result.agent.mean_score)
    assert "per_deal_agent" not in result.to_dict()


def test_results_of_disjoint_deal_sets_combine_into_the_whole_match():
    from blobrl.agents.ismcts import IsmctsAgent
    from blobrl.evaluation.match import combine

    deals = make_deals(4, 5, 12, seed=3)
    # both sides decide from the situation alone, so splitting the deals changes nothing
    whole = play_duplicate(IsmctsAgent(60, seed=1), HeuristicAgent(), deals)
    parts = [
        play_duplicate(IsmctsAgent(60, seed=1), HeuristicAgent(), deals[i::3]) for i in range(3)
    ]
    merged = combine(parts)
    assert merged.deals == 12 and merged.plays == whole.plays
    assert merged.diff_mean == pytest.approx(whole.diff_mean)
    assert merged.diff_ci95 == pytest.approx(whole.diff_ci95)
    for side in ("agent", "opponents"):
        a, b = getattr(merged, side), getattr(whole, side)
        assert a.mean_score == pytest.approx(b.mean_score)
        assert a.exact_rate == pytest.approx(b.exact_rate)
        assert a.mean_bid_error == pytest.approx(b.mean_bid_error)
        assert a.hands == b.hands
    assert (merged.better, merged.worse, merged.tied) == (whole.better, whole.worse, whole.tied)
