"""The game-mix sampler: weighted, and a pure function of (seed, iteration, game index)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from blobrl.config import GameMixEntry, GameMixSampler, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_draws_follow_the_weights_within_two_percent():
    config = load_config(CONFIGS / "aggressive.yaml")
    sampler = config.game_mix_sampler()
    draws = 10_000
    counts = Counter(sampler.draw_many(3, count=draws))
    for entry in config.game_mix:
        assert counts[entry.deal] / draws == pytest.approx(entry.weight, abs=0.02)
    assert set(counts) <= {e.deal for e in config.game_mix}


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_draws_are_a_function_of_seed_iteration_and_game(seed):
    mix = [GameMixEntry(5, 7, 0.5), GameMixEntry(4, 6, 0.25), GameMixEntry(6, 6, 0.25)]
    a = GameMixSampler(mix, seed=seed)
    b = GameMixSampler(mix, seed=seed)
    in_order = a.draw_many(9, count=200)
    # A resumed run asks for games 150.. only, and in another order: same answers.
    assert [b.draw(9, i) for i in reversed(range(150, 200))] == in_order[150:][::-1]
    assert b.draw_many(9, start=20, count=30) == in_order[20:50]
    assert a.deal_seed(9, 5) == b.deal_seed(9, 5)


def test_iterations_and_seeds_draw_different_games():
    mix = [GameMixEntry(5, 7, 0.5), GameMixEntry(4, 6, 0.5)]
    base = GameMixSampler(mix, seed=1).draw_many(1, count=64)
    assert GameMixSampler(mix, seed=1).draw_many(2, count=64) != base
    assert GameMixSampler(mix, seed=2).draw_many(1, count=64) != base
    seeds = {GameMixSampler(mix, seed=1).deal_seed(1, i) for i in range(64)}
    assert len(seeds) == 64


def test_a_single_deal_always_comes_up():
    sampler = GameMixSampler([GameMixEntry(3, 10, 1.0)], seed=0)
    assert set(sampler.draw_many(1, count=100)) == {(3, 10)}
