"""Arena: two search agents on duplicate deals from swapped seats."""

from __future__ import annotations

import pytest
import torch

from blobrl.evaluation import Deal, SearchAgent, play_match
from blobrl.mcts import SearchSettings
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network

QUICK = SearchSettings(
    determinizations=1,
    simulations=2,
    root="gumbel",
    gumbel_actions=2,
    dirichlet_weight=0.0,
    temperature=0.0,
    final_temperature=0.0,
)


def _agent(seed: int) -> SearchAgent:
    torch.manual_seed(seed)
    return SearchAgent(TorchEvaluator(build_network(NetworkConfig(hidden=8, blocks=1))), QUICK)


def test_per_deal_scores_give_the_mean_difference_and_the_wins():
    deals = [Deal(3, 3, seed=s) for s in range(4)] + [Deal(4, 2, seed=9)]
    result = play_match(_agent(0), _agent(1), deals)
    a, b = result.per_deal_a, result.per_deal_b
    assert len(a) == len(b) == result.deals == 5
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    assert result.diff_mean == pytest.approx(sum(diffs) / 5)
    assert result.a_wins == sum(d > 1e-9 for d in diffs)
    assert min(a) >= 0 and min(b) >= 0
