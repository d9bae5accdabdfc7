"""Arena: two search agents play the same deals from swapped seats, many games at once.

Each deal is played twice: agent A in the even seats and B in the odd ones, then the other way
round, so the luck of the cards falls on both sides alike ("duplicate" deals). Every decision
round (:mod:`blobrl.evaluation.engine`), the games whose player to act belongs to A are searched
in one batch with A's evaluator and the rest with B's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from blobrl.evaluation.engine import Batch, Deal, SeatHands, Seating, interval95, play_seatings
from blobrl.game import core as k
from blobrl.mcts import Evaluator, SearchSettings, make_search, sample_actions


@dataclass(frozen=True)
class SearchAgent:
    """An evaluator plus the search settings it plays with."""

    evaluator: Evaluator
    settings: SearchSettings


@dataclass(frozen=True)
class SideStats:
    """One side's results over all the hands it played."""

    mean_score: float  # mean score per hand per seat
    ci95: float  # half-width of the 95% interval of mean_score
    exact_rate: float  # fraction of seats whose bid was exactly made
    mean_bid_error: float  # mean |bid - tricks|


@dataclass(frozen=True)
class MatchResult:
    deals: int
    a: SideStats
    b: SideStats
    a_wins: int  # deals where A's mean score (over both seatings) beat B's
    b_wins: int
    ties: int
    diff_mean: float  # mean over deals of (A - B) score per hand
    diff_ci95: float
    # [D] mean score per hand of each side on each deal, over both seatings
    per_deal_a: tuple[float, ...] = ()
    per_deal_b: tuple[float, ...] = ()
    # wall time of the match (set by the evaluator actor); not part of what the match found
    seconds: float = field(default=float("nan"), compare=False)

    @property
    def a_share(self) -> float:
        """A's share of the paired deals, ties counting half."""
        return (self.a_wins + 0.5 * self.ties) / self.deals if self.deals else 0.5


class _Searcher:
    """One side's decisions: a batched search, then a move drawn at the settings' temperature
    from the shared random streams."""

    def __init__(self, agent: SearchAgent, *, max_games: int) -> None:
        self.engine = make_search(agent.evaluator, max_games=max_games, settings=agent.settings)
        self.settings = agent.settings

    def __call__(self, batch: Batch, active: np.ndarray) -> np.ndarray:
        states, g = batch.states, batch.states.shape[0]
        result = self.engine.run(states, active, batch.rs)
        t = np.array([self.settings.temperature_at(int(states[i, k.F_HISTLEN])) for i in range(g)])
        weights = result.visits if self.settings.plays_visits else result.policy
        chosen = np.zeros(g, np.int64)
        sample_actions(weights.astype(np.float64), t, active, batch.rs, chosen)
        return chosen[active]


def _side(hands: SeatHands) -> SideStats:
    exact = hands.bid == hands.tricks
    return SideStats(
        mean_score=float(hands.score.mean()) if hands.score.size else 0.0,
        ci95=interval95(hands.score),
        exact_rate=float(np.mean(exact)) if exact.size else 0.0,
        mean_bid_error=float(np.mean(np.abs(hands.bid - hands.tricks))) if exact.size else 0.0,
    )


def play_match(
    a: SearchAgent,
    b: SearchAgent,
    deals: Sequence[Deal],
    *,
    trump_mode: str = "rotation",
    scoring: str = "blob",
    games_in_flight: int = 64,
    seed: int = 0,
) -> MatchResult:
    """Play every deal from both seatings and compare A with B."""
    seatings = [
        Seating(index, tuple((seat + swap) % 2 for seat in range(deal.num_players)))
        for index, deal in enumerate(deals)
        for swap in (0, 1)
    ]
    hands = play_seatings(
        deals,
        seatings,
        (_Searcher(a, max_games=games_in_flight), _Searcher(b, max_games=games_in_flight)),
        turns="round",
        trump_mode=trump_mode,
        scoring=scoring,
        games_in_flight=games_in_flight,
        seed=seed,
    )
    mine, theirs = hands.of(0), hands.of(1)
    a_means, b_means = (_per_deal_means(x, len(deals)) for x in (mine, theirs))  # [D]
    diffs = a_means - b_means
    return MatchResult(
        deals=len(deals),
        a=_side(mine),
        b=_side(theirs),
        a_wins=int((diffs > 1e-9).sum()),
        b_wins=int((diffs < -1e-9).sum()),
        ties=int((np.abs(diffs) <= 1e-9).sum()),
        diff_mean=float(diffs.mean()) if diffs.size else 0.0,
        diff_ci95=interval95(diffs),
        per_deal_a=tuple(float(x) for x in a_means),
        per_deal_b=tuple(float(x) for x in b_means),
    )


def _per_deal_means(hands: SeatHands, deals: int) -> np.ndarray:
    total, count = hands.per_deal(deals)
    return total / np.maximum(count, 1)
