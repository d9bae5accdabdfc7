"""Arena: two search agents play the same deals from swapped seats, many games at once.

Each deal is played twice: agent A in the even seats and B in the odd ones, then the other way
round, so the luck of the cards falls on both sides alike ("duplicate" deals). Every decision
round, the games whose player to act belongs to A are searched in one batch with A's evaluator
and the rest with B's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from blobrl.game import core as k
from blobrl.game import new_game
from blobrl.game import rng as _rng
from blobrl.mcts import Evaluator, SearchSettings, make_search, sample_actions


@dataclass(frozen=True)
class SearchAgent:
    """An evaluator plus the search settings it plays with."""

    evaluator: Evaluator
    settings: SearchSettings


@dataclass(frozen=True)
class Deal:
    num_players: int
    num_cards: int
    seed: int


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


def _interval(values: np.ndarray) -> float:
    if values.size < 2:
        return math.inf
    return float(1.96 * values.std(ddof=1) / math.sqrt(values.size))


def _side(scores: list[float], exact: list[bool], errors: list[int]) -> SideStats:
    arr = np.asarray(scores, np.float64)
    return SideStats(
        mean_score=float(arr.mean()) if arr.size else 0.0,
        ci95=_interval(arr),
        exact_rate=float(np.mean(exact)) if exact else 0.0,
        mean_bid_error=float(np.mean(errors)) if errors else 0.0,
    )


def play_match(
    a: SearchAgent,
    b: SearchAgent,
    deals: list[Deal],
    *,
    trump_mode: str = "rotation",
    scoring: str = "blob",
    games_in_flight: int = 64,
    seed: int = 0,
) -> MatchResult:
    """Play every deal from both seatings and compare A with B."""
    games = [(index, deal, swap) for index, deal in enumerate(deals) for swap in (0, 1)]
    engines = {
        0: make_search(a.evaluator, max_games=games_in_flight, settings=a.settings),
        1: make_search(b.evaluator, max_games=games_in_flight, settings=b.settings),
    }
    temps = {0: a.settings, 1: b.settings}
    # per game: (A's seat scores, B's seat scores), plus exact flags and bid errors per side
    side_scores: dict[int, list[float]] = {0: [], 1: []}
    side_exact: dict[int, list[bool]] = {0: [], 1: []}
    side_err: dict[int, list[int]] = {0: [], 1: []}
    per_deal: dict[int, list[float]] = {}
    for start in range(0, len(games), games_in_flight):
        chunk = games[start : start + games_in_flight]
        g = len(chunk)
        states = np.stack(
            [
                new_game(
                    d.num_players, d.num_cards, seed=d.seed, trump_mode=trump_mode, scoring=scoring
                ).vector
                for _, d, _ in chunk
            ]
        )
        rs = _rng.seed_streams([seed * 1_000_003 + start + i for i in range(g)])
        owner = np.array(
            [[(seat + swap) % 2 for seat in range(k.MAX_PLAYERS)] for _, _, swap in chunk]
        )
        buf = np.empty(k.NUM_ACTIONS, np.int64)
        chosen = np.zeros(g, np.int64)
        while True:
            for i in range(g):
                while (
                    states[i, k.F_PHASE] != k.PHASE_TERMINAL
                    and k.legal_actions(states[i], buf) == 1
                ):
                    k.apply_unchecked(states[i], buf[0])
            live = states[:, k.F_PHASE] != k.PHASE_TERMINAL
            if not live.any():
                break
            players = np.maximum(states[:, k.F_PLAYER], 0)
            acting_side = owner[np.arange(g), players]
            for side in (0, 1):
                active = live & (acting_side == side)
                if not active.any():
                    continue
                result = engines[side].run(states, active, rs)
                settings = temps[side]
                t = np.array(
                    [settings.temperature_at(int(states[i, k.F_HISTLEN])) for i in range(g)]
                )
                weights = result.visits if settings.plays_visits else result.policy
                sample_actions(weights.astype(np.float64), t, active, rs, chosen)
                for i in np.flatnonzero(active).tolist():
                    k.apply_unchecked(states[i], int(chosen[i]))
        score_buf = np.zeros(k.MAX_PLAYERS)
        for i, (index, deal, _swap) in enumerate(chunk):
            k.scores(states[i], score_buf)
            n = deal.num_players
            sums: dict[int, list[float]] = {0: [], 1: []}
            for seat in range(n):
                side = int(owner[i, seat])
                bid = int(states[i, k.F_BIDS + seat])
                won = int(states[i, k.F_TRICKS + seat])
                side_scores[side].append(float(score_buf[seat]))
                side_exact[side].append(bid == won)
                side_err[side].append(abs(bid - won))
                sums[side].append(float(score_buf[seat]))
            acc = per_deal.setdefault(index, [0.0, 0.0, 0.0, 0.0])
            acc[0] += sum(sums[0])
            acc[1] += len(sums[0])
            acc[2] += sum(sums[1])
            acc[3] += len(sums[1])
    a_means = np.array([acc[0] / acc[1] for acc in per_deal.values()])  # [D]
    b_means = np.array([acc[2] / acc[3] for acc in per_deal.values()])  # [D]
    diffs = a_means - b_means
    return MatchResult(
        deals=len(per_deal),
        a=_side(side_scores[0], side_exact[0], side_err[0]),
        b=_side(side_scores[1], side_exact[1], side_err[1]),
        a_wins=int((diffs > 1e-9).sum()),
        b_wins=int((diffs < -1e-9).sum()),
        ties=int((np.abs(diffs) <= 1e-9).sum()),
        diff_mean=float(diffs.mean()) if diffs.size else 0.0,
        diff_ci95=_interval(diffs),
        per_deal_a=tuple(float(x) for x in a_means),
        per_deal_b=tuple(float(x) for x in b_means),
    )
