"""The arena's deals follow the game mix: each size as often as its weight says, exactly and
the same for the same iteration."""

from __future__ import annotations

from collections import Counter

import pytest

from blobrl.actors.compose import Resources, build
from blobrl.actors.evaluator import EvaluatorService, apportion
from blobrl.mcts import SearchSettings
from blobrl.nn import NetworkConfig

from .fakes import MemoryJournal
from .test_coordinator import tiny_config

TINY = NetworkConfig(hidden=16, blocks=1)
QUICK = SearchSettings(determinizations=1, simulations=4)
MIX = [(5, 7), (4, 6), (3, 8), (6, 5), (4, 10), (7, 4)]
WEIGHTS = [0.5, 0.15, 0.1, 0.1, 0.1, 0.05]


def service(deals, weights, arena_deals: int) -> EvaluatorService:
    return EvaluatorService(
        TINY, QUICK, deals=deals, weights=weights, arena_deals=arena_deals, torch_threads=None
    )


def sizes(deals) -> Counter:
    return Counter((d.num_players, d.num_cards) for d in deals)


def test_arena_deals_follow_the_game_mix_weights():
    deals = service(MIX, WEIGHTS, 200).arena_deal_list(3)
    assert len(deals) == 200
    assert sizes(deals) == dict(zip(MIX, [100, 30, 20, 20, 20, 10], strict=True))


def test_a_single_size_gets_every_arena_deal():
    deals = service([(5, 7)], [0.5], 37).arena_deal_list(1)
    assert sizes(deals) == {(5, 7): 37}


def test_arena_deals_are_the_same_for_the_same_iteration_and_fresh_for_another():
    first, again = service(MIX, WEIGHTS, 50), service(MIX, WEIGHTS, 50)
    assert first.arena_deal_list(4) == again.arena_deal_list(4)
    other = first.arena_deal_list(5)
    assert sizes(other) == sizes(first.arena_deal_list(4))  # the counts never vary
    assert {d.seed for d in other}.isdisjoint(d.seed for d in first.arena_deal_list(4))


def test_without_weights_the_sizes_share_the_deals_equally():
    assert sizes(service([(4, 3), (3, 4)], None, 5).arena_deal_list(1)) == {(4, 3): 3, (3, 4): 2}


@pytest.mark.parametrize(
    ("weights", "total", "expected"),
    [
        ([0.5, 0.5], 3, [2, 1]),  # a tie goes to the earlier size
        ([0.7, 0.2, 0.1], 1, [1, 0, 0]),
        ([0.6, 0.3, 0.1], 7, [4, 2, 1]),  # quotas 4.2, 2.1, 0.7
        ([0.25, 0.25], 10, [5, 5]),  # weights need not add up to 1
        ([1.0], 0, [0]),
    ],
)
def test_largest_remainder_apportionment(weights, total, expected):
    assert apportion(weights, total) == expected


@pytest.mark.parametrize("total", [1, 7, 99, 200, 1001])
def test_apportioned_counts_add_up_and_stay_within_one_of_their_quota(total):
    counts = apportion(WEIGHTS, total)
    assert sum(counts) == total
    for count, weight in zip(counts, WEIGHTS, strict=True):
        assert abs(count - total * weight) < 1


def test_the_composed_evaluator_gets_the_configured_weights():
    config = tiny_config(
        1,
        game_mix=[
            {"players": 4, "cards": 3, "weight": 0.75},
            {"players": 3, "cards": 4, "weight": 0.25},
        ],
        evaluation={"arena_deals": 8, "gauntlet_every": 0},
    )
    system = build(config, MemoryJournal(), remote=False, resources=Resources(1, 0))
    try:
        deals = system.evaluator.obj.arena_deal_list(1)
    finally:
        system.shutdown()
    assert sizes(deals) == {(4, 3): 6, (3, 4): 2}
