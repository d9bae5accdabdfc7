"""Gauntlet: a network, with the evaluation search, against fixed reference agents.

The arena only says whether a network beats the previous best; the gauntlet says how strong it
is on an absolute scale. The network plays duplicate deals (each deal once per seat, see
:mod:`blobrl.evaluation.match`) against the uniform random agent and against the rule-based
heuristic, at each requested table size, and against the ``ismcts:SIMS`` search baselines at
the first (reference) size only: at about 3 ms a decision, 100 deals of 5x7 (5 seatings x 4
baseline seats x ~7 decisions) cost about 40 s for ``ismcts:1000``. The deals are the same at
every call with the same ``seed``, so that successive iterations are compared on identical cards.
Each match also reports the network's paired score share (:mod:`blobrl.evaluation.rating`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from blobrl.agents.base import Agent, RandomAgent
from blobrl.agents.heuristic import HeuristicAgent
from blobrl.agents.ismcts import IsmctsAgent
from blobrl.evaluation.match import DuplicateResult, make_deals, play_duplicate
from blobrl.evaluation.rating import MatchEdge, paired_share

# Opponent name -> factory (seeded). The names are the ones of ``blobrl.agents.load``.
OPPONENTS: dict[str, Callable[[int], Agent]] = {
    "random": RandomAgent,
    "heuristic": lambda seed: HeuristicAgent(),
}
# Opponents named ``KIND:N`` (N >= 1): KIND -> factory of (N, seed).
PARAMETRIC_OPPONENTS: dict[str, Callable[[int, int], Agent]] = {
    "ismcts": lambda simulations, seed: IsmctsAgent(simulations, seed=seed),
}


def ismcts_opponent(simulations: int) -> str:
    """The gauntlet name of the ISMCTS baseline at ``simulations`` per decision."""
    return f"ismcts:{simulations}"


def opponent_factory(name: str) -> Callable[[int], Agent] | None:
    """The seeded factory of the opponent called ``name``, or None for an unknown name."""
    if name in OPPONENTS:
        return OPPONENTS[name]
    kind, _, count = name.partition(":")
    make = PARAMETRIC_OPPONENTS.get(kind)
    if make is None or not count.isdigit() or int(count) < 1:
        return None
    return lambda seed: make(int(count), seed)


@dataclass(frozen=True)
class GauntletMatch:
    """One opponent at one table size; scores are mean points per hand (blob scoring by
    default), intervals are 95% half-widths over deals."""

    opponent: str
    players: int
    cards: int
    deals: int
    score: float  # the network's mean score per hand
    score_ci95: float
    opponent_score: float  # the opponents' mean score per hand on the same deals
    opponent_ci95: float
    diff: float  # mean over deals of (network - opponents)
    diff_ci95: float
    exact_rate: float  # the network's fraction of exactly made bids
    opponent_exact_rate: float
    share: float  # the network's paired score share, 0..1 (rating.paired_share)
    share_se: float  # its standard error over deals (inf with one deal)

    @property
    def verdict(self) -> str:
        """``better``, ``worse`` or ``tied`` (the 95% interval of the difference includes 0)."""
        if self.diff - self.diff_ci95 > 0:
            return "better"
        if self.diff + self.diff_ci95 < 0:
            return "worse"
        return "tied"

    @classmethod
    def from_result(
        cls, opponent: str, players: int, cards: int, result: DuplicateResult
    ) -> GauntletMatch:
        share, share_se = paired_share(result.per_deal_agent, result.per_deal_opponents)
        return cls(
            opponent=opponent,
            players=players,
            cards=cards,
            deals=result.deals,
            score=result.agent.mean_score,
            score_ci95=result.agent.ci95,
            opponent_score=result.opponents.mean_score,
            opponent_ci95=result.opponents.ci95,
            diff=result.diff_mean,
            diff_ci95=result.diff_ci95,
            exact_rate=result.agent.exact_rate,
            opponent_exact_rate=result.opponents.exact_rate,
            share=share,
            share_se=share_se,
        )


@dataclass(frozen=True)
class GauntletResult:
    iteration: int
    matches: tuple[GauntletMatch, ...]
    seconds: float  # wall time of the whole gauntlet

    def match(self, opponent: str, players: int, cards: int) -> GauntletMatch:
        for m in self.matches:
            if (m.opponent, m.players, m.cards) == (opponent, players, cards):
                return m
        raise KeyError(f"no {opponent} match at {players}x{cards}")

    def to_dict(self) -> dict:
        """Plain JSON-ready values (infinite intervals of a one-deal match become None)."""
        matches = []
        for m in self.matches:
            row = {k: _finite(v) for k, v in asdict(m).items()}
            row["verdict"] = m.verdict
            matches.append(row)
        return {"iteration": self.iteration, "seconds": self.seconds, "matches": matches}


def gauntlet_sizes(
    main: tuple[int, int], *, reference: tuple[int, int] = (5, 7)
) -> list[tuple[int, int]]:
    """The table sizes of a gauntlet: the reference 5x7 and the run's main deal (once if equal)."""
    return [reference] if main == reference else [reference, main]


def run_gauntlet(
    agent: Agent,
    *,
    sizes: Sequence[tuple[int, int]],
    deals: int,
    opponents: Sequence[str] = ("random", "heuristic"),
    reference_opponents: Sequence[str] = (),
    iteration: int = 0,
    seed: int = 0,
    trump_mode: str = "rotation",
    scoring: str = "blob",
) -> GauntletResult:
    """``agent`` against each of ``opponents`` on ``deals`` duplicate deals of each size, and
    against each of ``reference_opponents`` (the costly search baselines) at the first size."""
    if deals < 1:
        raise ValueError(f"deals must be >= 1, got {deals}")
    everyone = [*opponents, *reference_opponents]
    factories: dict[str, Callable[[int], Agent]] = {}
    unknown = []
    for name in everyone:
        make = opponent_factory(name)
        if make is None:
            unknown.append(name)
        else:
            factories[name] = make
    if unknown:
        known = [*sorted(OPPONENTS), *(f"{kind}:N" for kind in sorted(PARAMETRIC_OPPONENTS))]
        raise ValueError(f"unknown gauntlet opponents {unknown}; known: {known}")
    started = time.perf_counter()
    matches = []
    for size_index, (players, cards) in enumerate(sizes):
        # The same deals for every opponent and every call: differences between iterations
        # are then differences of play, not of cards.
        table = make_deals(players, cards, deals, seed=seed + 1_000 * players + cards)
        names = everyone if size_index == 0 else list(opponents)
        for index, name in enumerate(names):
            result = play_duplicate(
                agent,
                factories[name](seed + index),
                table,
                trump_mode=trump_mode,
                scoring=scoring,
            )
            matches.append(GauntletMatch.from_result(name, players, cards, result))
    return GauntletResult(
        iteration=iteration,
        matches=tuple(matches),
        seconds=round(time.perf_counter() - started, 3),
    )


def gauntlet_edges(report: Mapping[str, Any], player: str) -> list[MatchEdge]:
    """The rating edges of a gauntlet report (:meth:`GauntletResult.to_dict`) whose network
    is called ``player``: one per match (reports from before the share was kept give none)."""
    edges = []
    for m in report.get("matches", []):
        if m.get("share") is None:
            continue
        se = m.get("share_se")
        edges.append(
            MatchEdge(
                a=player,
                b=str(m["opponent"]),
                kind="gauntlet",
                iteration=int(report["iteration"]),
                deals=int(m["deals"]),
                share=float(m["share"]),
                share_se=math.inf if se is None else float(se),
                players=int(m["players"]),
                cards=int(m["cards"]),
            )
        )
    return edges


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
