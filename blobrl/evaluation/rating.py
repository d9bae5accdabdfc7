"""Ratings from match results: Elo differences observed per match, fitted over all matches.

Every match between two players (a checkpoint against the best one in the arena, a checkpoint
against a fixed agent in the gauntlet) is played on duplicate deals. Its **paired score share**
is the mean over deals of ``a_d / (a_d + b_d)``, where ``a_d`` and ``b_d`` are the two sides'
mean scores per hand on deal ``d`` (a deal where both score nothing counts 0.5). Scores are
never negative, so the share lies in 0..1, is 0.5 between equals, and a side that scores three
times as much as the other on every deal has a share of 0.75. The match's **observed Elo
difference** is ``400 * log10(s / (1 - s))`` (0.75 -> +190.8), with ``s`` clipped to
:data:`SHARE_CLIP` .. ``1 - SHARE_CLIP`` (at most +-798), and its standard error comes from the
spread of the per-deal shares by the delta method (``d elo / d s = 400 / (ln 10 * s (1 - s))``).

:func:`fit_ratings` combines all matches by weighted least squares over the graph of players
(each match an edge ``r_a - r_b = elo``, weighted by 1 / its variance), with the anchor
(``random``) fixed at 0: checkpoints are chained along the arena edges, and the fixed agents
(heuristic, ismcts) are placed on the same scale by the gauntlet edges. 95% intervals come from
the covariance of the fit, so they are relative to the anchor. A player that no match connects
to the anchor has no rating (``elo`` and ``ci95`` None). The fit treats matches as independent
(the gauntlet replays the same deals at every call, so its edges are somewhat correlated).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

ANCHOR = "random"  # rated 0 by definition
SHARE_CLIP = 0.01  # shares are clipped to [0.01, 0.99] before the log: at most +-798 Elo
# Per-deal shares that all agree (two copies of one deterministic player) would give a zero
# variance and an infinite weight: the spread counted is at least this.
MIN_DEAL_SD = 0.05
Z95 = 1.96
ELO_PER_NAT = 400.0 / math.log(10.0)  # d(elo) / d(log odds)

EdgeKind = Literal["arena", "gauntlet"]
_CHECKPOINT_PREFIX = "iter_"


def checkpoint_player(iteration: int) -> str:
    """The rating name of the network trained in ``iteration`` (0: the initial network)."""
    return f"{_CHECKPOINT_PREFIX}{iteration}"


def elo_of_share(share: float) -> float:
    """The Elo difference implied by a share (clipped to ``SHARE_CLIP .. 1 - SHARE_CLIP``)."""
    s = min(max(share, SHARE_CLIP), 1.0 - SHARE_CLIP)
    return 400.0 * math.log10(s / (1.0 - s))


def share_of_elo(elo: float) -> float:
    """The share an Elo difference predicts (the inverse of :func:`elo_of_share`)."""
    return 1.0 / (1.0 + 10.0 ** (-elo / 400.0))


def paired_share(a_scores: Sequence[float], b_scores: Sequence[float]) -> tuple[float, float]:
    """(share, standard error) of A against B from per-deal mean scores per hand.

    ``a_scores[d]`` and ``b_scores[d]`` are the two sides' mean scores per hand on deal ``d``
    (``[D]`` each, non-negative). The standard error is over deals (inf with fewer than 2).
    """
    a = np.asarray(a_scores, np.float64)  # [D]
    b = np.asarray(b_scores, np.float64)  # [D]
    if a.shape != b.shape:
        raise ValueError(f"per-deal scores differ in length: {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.5, math.inf
    total = a + b
    per_deal = np.where(total > 0, a / np.where(total > 0, total, 1.0), 0.5)  # [D]
    share = float(per_deal.mean())
    if a.size < 2:
        return share, math.inf
    sd = max(float(per_deal.std(ddof=1)), MIN_DEAL_SD)
    return share, sd / math.sqrt(a.size)


@dataclass(frozen=True)
class MatchEdge:
    """One match between players ``a`` and ``b``, as the fit sees it."""

    a: str
    b: str
    kind: EdgeKind
    iteration: int  # the iteration whose arena or gauntlet played it
    deals: int
    share: float  # A's paired score share, 0..1
    share_se: float  # its standard error over deals (inf: fewer than 2 deals, not fitted)
    players: int = 0  # table size of the deals; 0: a mix of sizes (the arena)
    cards: int = 0

    @classmethod
    def from_scores(
        cls,
        a: str,
        b: str,
        a_scores: Sequence[float],
        b_scores: Sequence[float],
        *,
        kind: EdgeKind,
        iteration: int,
        players: int = 0,
        cards: int = 0,
    ) -> MatchEdge:
        """The edge of a match from the per-deal mean scores per hand of both sides."""
        share, se = paired_share(a_scores, b_scores)
        return cls(a, b, kind, iteration, len(a_scores), share, se, players, cards)

    @property
    def elo(self) -> float:
        """The observed Elo difference of A over B."""
        return elo_of_share(self.share)

    @property
    def elo_se(self) -> float:
        """Standard error of :attr:`elo` by the delta method (at the clipped share)."""
        s = min(max(self.share, SHARE_CLIP), 1.0 - SHARE_CLIP)
        return ELO_PER_NAT * self.share_se / (s * (1.0 - s))

    @property
    def ci95(self) -> float:
        """Half-width of the 95% interval of :attr:`elo` (inf when it has none)."""
        return Z95 * self.elo_se

    @property
    def fitted(self) -> bool:
        """Whether the fit uses this edge (it needs a finite, positive variance)."""
        se = self.elo_se
        return self.a != self.b and math.isfinite(se) and se > 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (an infinite ``share_se`` becomes None)."""
        out = asdict(self)
        if not math.isfinite(self.share_se):
            out["share_se"] = None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchEdge:
        se = data.get("share_se")
        return cls(
            a=str(data["a"]),
            b=str(data["b"]),
            kind=data["kind"],
            iteration=int(data["iteration"]),
            deals=int(data["deals"]),
            share=float(data["share"]),
            share_se=math.inf if se is None else float(se),
            players=int(data.get("players", 0)),
            cards=int(data.get("cards", 0)),
        )


@dataclass(frozen=True)
class Rating:
    """A player's rating relative to the anchor; None when no match connects it to it."""

    player: str
    elo: float | None
    ci95: float | None  # half-width of the 95% interval (0 for the anchor)
    matches: int = 0  # fitted matches the player took part in

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Ratings:
    """The fit of a set of matches: every player named by an edge (or asked for)."""

    anchor: str
    ratings: tuple[Rating, ...]

    @cached_property
    def _by_player(self) -> dict[str, Rating]:
        return {r.player: r for r in self.ratings}

    def get(self, player: str) -> Rating:
        """``player``'s rating; one without any (elo None) when the fit never saw it."""
        return self._by_player.get(player) or Rating(player, None, None)

    def to_dict(self) -> dict[str, Any]:
        return {"anchor": self.anchor, "ratings": [r.to_dict() for r in self.ratings]}


def fit_ratings(
    edges: Iterable[MatchEdge], *, anchor: str = ANCHOR, players: Iterable[str] = ()
) -> Ratings:
    """Weighted least squares of ``r_a - r_b = edge.elo`` over all fitted edges, weights
    ``1 / edge.elo_se**2``, with ``r[anchor] = 0``; intervals from the inverse of the normal
    matrix. Players not connected to the anchor by fitted edges get no rating."""
    edges = list(edges)
    used = [e for e in edges if e.fitted]
    names = list(dict.fromkeys([anchor, *players, *(n for e in edges for n in (e.a, e.b))]))
    neighbours: dict[str, set[str]] = {n: set() for n in names}
    count = dict.fromkeys(names, 0)
    for e in used:
        neighbours[e.a].add(e.b)
        neighbours[e.b].add(e.a)
        count[e.a] += 1
        count[e.b] += 1
    connected = {anchor}
    frontier = [anchor]
    while frontier:
        for other in neighbours[frontier.pop()] - connected:
            connected.add(other)
            frontier.append(other)
    free = [n for n in names if n in connected and n != anchor]
    index = {n: i for i, n in enumerate(free)}
    rows = [e for e in used if e.a in connected]  # both ends are, or neither
    elo = np.zeros(len(free))  # [P]
    var = np.zeros(len(free))  # [P]
    if free:
        design = np.zeros((len(rows), len(free)))  # [E, P]: +1 at a, -1 at b, anchor dropped
        for row, e in enumerate(rows):
            if e.a != anchor:
                design[row, index[e.a]] += 1.0
            if e.b != anchor:
                design[row, index[e.b]] -= 1.0
        observed = np.array([e.elo for e in rows])  # [E]
        weight = np.array([1.0 / e.elo_se**2 for e in rows])  # [E]
        # Positive definite: every free player is connected to the anchor by fitted edges.
        normal = design.T @ (weight[:, None] * design)  # [P, P]
        cov = np.linalg.inv(normal)  # [P, P]
        elo = cov @ (design.T @ (weight * observed))
        var = np.maximum(np.diag(cov), 0.0)
    out = []
    for n in names:
        if n == anchor:
            out.append(Rating(n, 0.0, 0.0, count[n]))
        elif n in index:
            i = index[n]
            out.append(Rating(n, float(elo[i]), Z95 * math.sqrt(float(var[i])), count[n]))
        else:
            out.append(Rating(n, None, None, count[n]))
    return Ratings(anchor=anchor, ratings=tuple(out))


class RatingLedger:
    """The matches of a run and their current fit, refitted as matches come in.

    ``players`` are rated (None until connected) even before any match names them: the fixed
    agents a dashboard shows. The ledger's edges are what a checkpoint stores
    (:meth:`to_list`, :meth:`from_list`); the fit is recomputed from them.
    """

    def __init__(
        self,
        edges: Iterable[MatchEdge] = (),
        *,
        anchor: str = ANCHOR,
        players: Iterable[str] = (),
    ) -> None:
        self.anchor = anchor
        self.players = tuple(players)
        self.edges: list[MatchEdge] = list(edges)
        self.ratings = fit_ratings(self.edges, anchor=anchor, players=self.players)

    def add(self, edges: Iterable[MatchEdge]) -> Ratings:
        """Record ``edges`` and refit; returns the new ratings."""
        self.edges.extend(edges)
        self.ratings = fit_ratings(self.edges, anchor=self.anchor, players=self.players)
        return self.ratings

    def get(self, player: str) -> Rating:
        return self.ratings.get(player)

    def fixed_agents(self) -> list[Rating]:
        """The ratings of every player that is not a checkpoint (the anchor first)."""
        return [r for r in self.ratings.ratings if not r.player.startswith(_CHECKPOINT_PREFIX)]

    def to_list(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.edges]

    @classmethod
    def from_list(
        cls, data: Iterable[Mapping[str, Any]], *, anchor: str = ANCHOR, players: Iterable[str] = ()
    ) -> RatingLedger:
        return cls([MatchEdge.from_dict(d) for d in data], anchor=anchor, players=players)
