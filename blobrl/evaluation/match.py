"""Duplicate-deal matches between any agents, with seat rotation.

An agent plays against an opponent agent on the same deals: each deal of N players is played N
times, the agent taking each seat in turn and the opponent agent every other seat. Every deal is
then scored once per side (the agent's mean score per hand over its N plays, the opponents' over
their N * (N - 1)), so the luck of the cards cancels in the paired difference. Intervals are over
deals (the independent unit), at 95% with the normal approximation.

Games are played many at a time (:mod:`blobrl.evaluation.engine`): each step, the games waiting
on the same side are decided in one ``act_batch`` call when the agent has one (network and search
agents), else one ``act`` each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from blobrl.agents.base import Agent, act_many
from blobrl.evaluation.engine import Batch, Deal, SeatHands, Seating, interval95, play_seatings

AGENT, OPPONENTS = 0, 1


@dataclass(frozen=True)
class SideSummary:
    """One side's results; score intervals are over deals."""

    mean_score: float  # mean score per hand
    ci95: float  # half-width of the 95% interval of mean_score (inf with fewer than 2 deals)
    exact_rate: float  # fraction of hands whose bid was made exactly
    mean_bid_error: float  # mean |bid - tricks|
    hands: int  # seat-hands played


@dataclass(frozen=True)
class DuplicateResult:
    deals: int
    plays: int  # games played (deals x seat rotations)
    agent: SideSummary
    opponents: SideSummary
    diff_mean: float  # mean over deals of (agent - opponents) score per hand
    diff_ci95: float
    better: int  # deals where the agent's mean beat the opponents'
    worse: int
    tied: int
    per_deal_diff: tuple[float, ...]
    # [D] mean score per hand of each side on each deal (the paired score share's inputs)
    per_deal_agent: tuple[float, ...] = ()
    per_deal_opponents: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("per_deal_diff", "per_deal_agent", "per_deal_opponents"):
            out.pop(key)
        return out


def combine(parts: Sequence[DuplicateResult]) -> DuplicateResult:
    """One result of matches played on disjoint sets of deals (as parallel workers do)."""

    def tally(side: str) -> _Tally:
        means = np.concatenate([np.asarray(getattr(r, f"per_deal_{side}"), float) for r in parts])
        hands_each = [getattr(r, side).hands / max(r.deals, 1) for r in parts]
        hands = np.concatenate(
            [np.full(r.deals, h) for r, h in zip(parts, hands_each, strict=True)]
        )
        summaries = [getattr(r, side) for r in parts]
        return _Tally(
            means * hands,
            hands,
            exact=round(sum(x.exact_rate * x.hands for x in summaries)),
            bid_error=round(sum(x.mean_bid_error * x.hands for x in summaries)),
        )

    return _result(tally("agent"), tally("opponents"), plays=sum(r.plays for r in parts))


def make_deals(num_players: int, num_cards: int, count: int, *, seed: int = 0) -> list[Deal]:
    """``count`` deals of one size with seeds derived from ``seed``."""
    base = np.random.SeedSequence(seed).generate_state(1)[0]
    return [Deal(num_players, num_cards, int(base) * 1_000_003 + i) for i in range(count)]


@dataclass
class _Tally:
    score_sum: np.ndarray  # [D] per deal
    hands: np.ndarray  # [D] per deal
    exact: int = 0
    bid_error: int = 0

    def summary(self) -> SideSummary:
        per_deal = self.score_sum / np.maximum(self.hands, 1)
        total = int(self.hands.sum())
        return SideSummary(
            mean_score=float(per_deal.mean()) if per_deal.size else 0.0,
            ci95=interval95(per_deal),
            exact_rate=self.exact / total if total else 0.0,
            mean_bid_error=self.bid_error / total if total else 0.0,
            hands=total,
        )


class _AgentSide:
    """One side's decisions: the agent's ``act_batch`` on the games waiting on it, or its
    ``act`` on each (:func:`~blobrl.agents.base.act_many`)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def __call__(self, batch: Batch, active: np.ndarray) -> list[int]:
        return act_many(self.agent, [batch.games[i] for i in np.flatnonzero(active).tolist()])


def play_duplicate(
    agent: Agent,
    opponents: Agent,
    deals: Sequence[Deal],
    *,
    trump_mode: str = "rotation",
    scoring: str = "blob",
    games_in_flight: int = 256,
) -> DuplicateResult:
    """Play every deal once per seat of ``agent`` (``opponents`` in the other seats)."""
    seatings = [
        Seating(d, tuple(int(p != seat) for p in range(deal.num_players)))
        for d, deal in enumerate(deals)
        for seat in range(deal.num_players)
    ]
    hands = play_seatings(
        deals,
        seatings,
        (_AgentSide(agent), _AgentSide(opponents)),
        turns="side",
        trump_mode=trump_mode,
        scoring=scoring,
        games_in_flight=games_in_flight,
    )
    return _result(
        _tally(hands.of(AGENT), len(deals)),
        _tally(hands.of(OPPONENTS), len(deals)),
        plays=len(seatings),
    )


def _tally(hands: SeatHands, deals: int) -> _Tally:
    total, count = hands.per_deal(deals)
    return _Tally(
        total,
        count.astype(np.float64),
        exact=int((hands.bid == hands.tricks).sum()),
        bid_error=int(np.abs(hands.bid - hands.tricks).sum()),
    )


def _result(a: _Tally, o: _Tally, *, plays: int) -> DuplicateResult:
    a_means = a.score_sum / np.maximum(a.hands, 1)  # [D]
    o_means = o.score_sum / np.maximum(o.hands, 1)  # [D]
    diffs = a_means - o_means
    return DuplicateResult(
        deals=int(a.score_sum.size),
        plays=plays,
        agent=a.summary(),
        opponents=o.summary(),
        diff_mean=float(diffs.mean()) if diffs.size else 0.0,
        diff_ci95=interval95(diffs),
        better=int((diffs > 1e-9).sum()),
        worse=int((diffs < -1e-9).sum()),
        tied=int((np.abs(diffs) <= 1e-9).sum()),
        per_deal_diff=tuple(float(x) for x in diffs),
        per_deal_agent=tuple(float(x) for x in a_means),
        per_deal_opponents=tuple(float(x) for x in o_means),
    )
