"""Known answers of the match engine: fixed agents, deals and seeds give these per-deal scores.

The numbers were taken from the arena (``play_match``) and the agent matches
(``play_duplicate``) as they were before they became one engine, so that the same inputs keep
giving the same deals, seats, random streams and results. The evaluators are fakes with
exactly representable answers (a fixed integer projection of the features, rounded), so the
answers do not hang on a network's floating point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import pytest

from blobrl.agents import HeuristicAgent, ModelAgent, RandomAgent, play_settings
from blobrl.agents.ismcts import IsmctsAgent
from blobrl.evaluation import Deal, MatchResult, SearchAgent, play_match
from blobrl.evaluation.match import DuplicateResult, make_deals, play_duplicate
from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS
from blobrl.mcts import SearchSettings

GUMBEL = SearchSettings(
    determinizations=1,
    simulations=4,
    root="gumbel",
    gumbel_actions=4,
    dirichlet_weight=0.0,
    temperature=1.0,
    final_temperature=0.0,
    temperature_moves=4,
)
PUCT = SearchSettings(
    determinizations=2,
    simulations=3,
    root="puct",
    dirichlet_weight=0.25,
    temperature=0.5,
    final_temperature=0.0,
    temperature_moves=3,
)
INFORMATION_SET = SearchSettings(
    simulations=8,
    tree="information_set",
    belief_pool=8,
    dirichlet_weight=0.0,
    temperature=0.0,
    final_temperature=0.0,
)
ARENA_DEALS = [Deal(3, 3, seed=s) for s in range(3)] + [Deal(4, 2, seed=9), Deal(5, 4, seed=11)]


def fake_evaluator(seed: int) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Logits and values from a fixed integer projection of the features, rounded."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-4, 5, size=(FEATURES, NUM_ACTIONS)).astype(np.float64)
    v = rng.integers(-2, 3, size=(FEATURES, MAX_PLAYERS)).astype(np.float64)

    def evaluate(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = features.astype(np.float64)  # [B, FEATURES]
        logits = np.round(x @ w / 8.0, 2).astype(np.float32)  # [B, 65]
        values = np.round(0.5 + 0.3 * np.tanh(x @ v / 16.0), 2).astype(np.float32)  # [B, 8]
        return logits, values

    return evaluate


ARENAS: dict[str, Callable[[], MatchResult]] = {
    "gumbel_vs_puct_in_batches_of_4": lambda: play_match(
        SearchAgent(fake_evaluator(1), GUMBEL),
        SearchAgent(fake_evaluator(2), PUCT),
        ARENA_DEALS,
        seed=3,
        games_in_flight=4,
    ),
    "information_set_vs_worlds": lambda: play_match(
        SearchAgent(fake_evaluator(3), INFORMATION_SET),
        SearchAgent(fake_evaluator(4), GUMBEL),
        ARENA_DEALS[:4],
        seed=0,
    ),
}
MATCHES: dict[str, Callable[[], DuplicateResult]] = {
    "heuristic_vs_random_two_sizes_in_batches_of_7": lambda: play_duplicate(
        HeuristicAgent(),
        RandomAgent(5),
        make_deals(4, 3, 6, seed=2) + make_deals(3, 5, 3, seed=4),
        games_in_flight=7,
    ),
    "searching_model_vs_random_in_batches_of_6": lambda: play_duplicate(
        ModelAgent(fake_evaluator(5), settings=play_settings(2, 4), seed=1),
        RandomAgent(2),
        make_deals(4, 3, 5, seed=0),
        games_in_flight=6,
    ),
    "raw_policy_vs_ismcts": lambda: play_duplicate(
        ModelAgent(fake_evaluator(6)),
        IsmctsAgent(20, seed=1),
        make_deals(3, 4, 4, seed=7),
    ),
}


def arena_answer(result: MatchResult) -> dict:
    return {
        "per_deal_a": result.per_deal_a,
        "per_deal_b": result.per_deal_b,
        "counts": (result.deals, result.a_wins, result.b_wins, result.ties),
        "floats": (
            result.diff_mean,
            result.diff_ci95,
            *asdict(result.a).values(),
            *asdict(result.b).values(),
        ),
    }


def match_answer(result: DuplicateResult) -> dict:
    return {
        "per_deal_agent": result.per_deal_agent,
        "per_deal_opponents": result.per_deal_opponents,
        "counts": (
            result.deals,
            result.plays,
            result.better,
            result.worse,
            result.tied,
            result.agent.hands,
            result.opponents.hands,
        ),
        "floats": (
            result.diff_mean,
            result.diff_ci95,
            *result.per_deal_diff,
            *(v for k, v in asdict(result.agent).items() if k != "hands"),
            *(v for k, v in asdict(result.opponents).items() if k != "hands"),
        ),
    }


# From the two engines as they were at commit bb97cd0 (arena.play_match, match.play_duplicate).
KNOWN: dict[str, dict] = {
    "gumbel_vs_puct_in_batches_of_4": {
        "counts": (5, 4, 1, 0),
        "floats": (
            4.323333333333333,
            3.6058377581052894,
            5.888888888888889,
            2.514866068700352,
            0.5555555555555556,
            0.5,
            1.8333333333333333,
            1.9487586127375944,
            0.16666666666666666,
            1.6666666666666667,
        ),
        "per_deal_a": (6.666666666666667, 11.0, 3.6666666666666665, 5.25, 4.2),
        "per_deal_b": (3.6666666666666665, 0.0, 0.0, 5.5, 0.0),
    },
    "heuristic_vs_random_two_sizes_in_batches_of_7": {
        "counts": (9, 33, 6, 3, 0, 33, 90),
        "floats": (
            2.425925925925926,
            3.0780912451234936,
            -2.083333333333333,
            -1.75,
            1.9166666666666665,
            3.583333333333333,
            6.416666666666667,
            2.75,
            3.6666666666666665,
            11.333333333333334,
            -4.0,
            5.074074074074074,
            2.4391543206049207,
            0.45454545454545453,
            0.7272727272727273,
            2.648148148148148,
            1.41575912591313,
            0.24444444444444444,
            1.4,
        ),
        "per_deal_agent": (
            5.25,
            0.0,
            2.75,
            5.25,
            8.25,
            5.5,
            7.333333333333333,
            11.333333333333334,
            0.0,
        ),
        "per_deal_opponents": (
            7.333333333333333,
            1.75,
            0.8333333333333334,
            1.6666666666666667,
            1.8333333333333333,
            2.75,
            3.6666666666666665,
            0.0,
            4.0,
        ),
    },
    "information_set_vs_worlds": {
        "counts": (4, 2, 1, 1),
        "floats": (
            2.1666666666666665,
            4.84891893258846,
            4.153846153846154,
            2.9926837809928655,
            0.38461538461538464,
            0.6153846153846154,
            1.7692307692307692,
            2.350259711193461,
            0.15384615384615385,
            1.2307692307692308,
        ),
        "per_deal_a": (4.0, 7.333333333333333, 0.0, 5.0),
        "per_deal_b": (4.0, 0.0, 3.6666666666666665, 0.0),
    },
    "raw_policy_vs_ismcts": {
        "counts": (4, 12, 1, 3, 0, 12, 24),
        "floats": (
            -2.458333333333333,
            3.254052032409689,
            -5.333333333333333,
            -3.3333333333333335,
            2.333333333333333,
            -3.5,
            1.0,
            1.96,
            0.08333333333333333,
            1.5833333333333333,
            3.458333333333333,
            1.4692436325714846,
            0.3333333333333333,
            0.9583333333333334,
        ),
        "per_deal_agent": (0.0, 0.0, 4.0, 0.0),
        "per_deal_opponents": (5.333333333333333, 3.3333333333333335, 1.6666666666666667, 3.5),
    },
    "searching_model_vs_random_in_batches_of_6": {
        "counts": (5, 20, 5, 0, 0, 20, 60),
        "floats": (
            3.5333333333333328,
            1.827290526070407,
            1.5833333333333335,
            6.416666666666667,
            3.9166666666666665,
            1.4166666666666665,
            4.333333333333333,
            6.05,
            1.163685524529716,
            0.6,
            0.8,
            2.5166666666666666,
            1.216148017307104,
            0.23333333333333334,
            1.2833333333333334,
        ),
        "per_deal_agent": (5.0, 7.5, 7.5, 5.0, 5.25),
        "per_deal_opponents": (
            3.4166666666666665,
            1.0833333333333333,
            3.5833333333333335,
            3.5833333333333335,
            0.9166666666666666,
        ),
    },
}


def _check(answer: dict, known: dict) -> None:
    assert {k: v for k, v in answer.items() if k != "floats"} == {
        k: v for k, v in known.items() if k != "floats"
    }
    assert answer["floats"] == pytest.approx(known["floats"], rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", sorted(ARENAS))
def test_arena_gives_its_known_answers(name):
    _check(arena_answer(ARENAS[name]()), KNOWN[name])


@pytest.mark.parametrize("name", sorted(MATCHES))
def test_agent_match_gives_its_known_answers(name):
    _check(match_answer(MATCHES[name]()), KNOWN[name])
