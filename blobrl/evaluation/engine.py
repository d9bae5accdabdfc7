"""The match engine: every evaluation match plays its games here.

The arena (:mod:`blobrl.evaluation.arena`), the gauntlet, ``python -m blobrl.evaluate`` and the
strength curve (:mod:`blobrl.evaluation.match`) differ only in who sits where and how they
summarise the outcome. A match is a list of :class:`Seating`: a deal, and the side (0 or 1)
that owns each of its seats. The engine plays up to ``games_in_flight`` seatings at a time, in
rounds: every forced move is played, then each side in turn decides, in one call of its
:data:`Decide`, the live games waiting on one of its seats. It returns every seat-hand's
outcome (:class:`SeatHands`), in play order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from blobrl.game import BlobState, new_game
from blobrl.game import core as k
from blobrl.game import rng as _rng

SIDES = (0, 1)
STREAM_STRIDE = 1_000_003  # game ``start + i`` of a match seeded ``seed`` draws from stream
# ``seed * STREAM_STRIDE + start + i``


@dataclass(frozen=True)
class Deal:
    num_players: int
    num_cards: int
    seed: int  # of ``new_game``: the cards, the trump and the dealer


@dataclass(frozen=True)
class Seating:
    """One game of a match: deal ``deal`` (an index into the match's deals), seat ``s`` played
    by side ``owners[s]``."""

    deal: int
    owners: tuple[int, ...]  # [num_players] 0 or 1


@dataclass(frozen=True)
class Batch:
    """The games in flight, as the deciders see them."""

    states: np.ndarray  # int64[G, STATE_SIZE]: the games, updated in place
    games: list[BlobState]  # [G] over the rows of ``states`` (shared, not copied)
    rs: np.ndarray  # uint64[G]: one random stream per game, shared by both sides


# The actions of the ``active`` games (bool[G]) of a batch, in increasing game order.
Decide = Callable[[Batch, np.ndarray], Sequence[int] | np.ndarray]

# When a round reads whose turn it is: ``round``, once at its start (every live game takes one
# decision a round, never a forced one); ``side``, as each side's turn in the round comes (a
# game the first side just moved in may be decided by the second in the same round, forced or
# not). The arena plays ``round``, agent matches ``side``: the order in which the random
# streams and the agents' own generators are drawn follows the schedule, so each keeps its own.
Turns = Literal["round", "side"]


@dataclass(frozen=True)
class SeatHands:
    """Every seat-hand of a match, seating by seating in order and seat by seat within one."""

    deal: np.ndarray  # int64[H]: index of the deal
    side: np.ndarray  # int64[H]: 0 or 1
    score: np.ndarray  # float64[H]: points of the hand
    bid: np.ndarray  # int64[H]
    tricks: np.ndarray  # int64[H]: tricks won

    def of(self, side: int) -> SeatHands:
        """The seat-hands of ``side``, in the same order."""
        mine = self.side == side
        return SeatHands(*(getattr(self, f)[mine] for f in _FIELDS))

    def per_deal(self, deals: int) -> tuple[np.ndarray, np.ndarray]:
        """(points summed, seat-hands) of each of ``deals`` deals: ``float64[D]``, ``int64[D]``."""
        total = np.bincount(self.deal, weights=self.score, minlength=deals).astype(np.float64)
        return total, np.bincount(self.deal, minlength=deals)


_FIELDS = ("deal", "side", "score", "bid", "tricks")


def interval95(values: np.ndarray) -> float:
    """Half-width of the normal 95% interval of the mean of ``values`` (inf below 2 values)."""
    if values.size < 2:
        return math.inf
    return float(1.96 * values.std(ddof=1) / math.sqrt(values.size))


def play_seatings(
    deals: Sequence[Deal],
    seatings: Sequence[Seating],
    deciders: tuple[Decide, Decide],
    *,
    turns: Turns,
    trump_mode: str = "rotation",
    scoring: str = "blob",
    games_in_flight: int = 256,
    seed: int = 0,
) -> SeatHands:
    """Play every seating, ``deciders[side]`` choosing for the seats of ``side``."""
    rows: list[tuple[int, int, float, int, int]] = []
    buf = np.empty(k.NUM_ACTIONS, np.int64)
    score_buf = np.zeros(k.MAX_PLAYERS)
    for start in range(0, len(seatings), games_in_flight):
        chunk = seatings[start : start + games_in_flight]
        g = len(chunk)
        states = np.stack(
            [
                new_game(
                    deals[s.deal].num_players,
                    deals[s.deal].num_cards,
                    seed=deals[s.deal].seed,
                    trump_mode=trump_mode,
                    scoring=scoring,
                ).vector
                for s in chunk
            ]
        )  # [G, STATE_SIZE]
        batch = Batch(
            states,
            [BlobState(row) for row in states],
            _rng.seed_streams([seed * STREAM_STRIDE + start + i for i in range(g)]),
        )
        owner = np.zeros((g, k.MAX_PLAYERS), np.int64)  # [G, MAX_PLAYERS]
        for i, s in enumerate(chunk):
            owner[i, : len(s.owners)] = s.owners
        _play_chunk(batch, owner, deciders, turns, buf)
        for i, s in enumerate(chunk):
            k.scores(states[i], score_buf)
            for seat in range(len(s.owners)):
                bid, won = int(states[i, k.F_BIDS + seat]), int(states[i, k.F_TRICKS + seat])
                rows.append((s.deal, s.owners[seat], float(score_buf[seat]), bid, won))
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_FIELDS)
    return SeatHands(
        *(
            np.asarray(c, np.float64 if f == "score" else np.int64)
            for f, c in zip(_FIELDS, columns, strict=True)
        )
    )


def _play_chunk(
    batch: Batch,
    owner: np.ndarray,
    deciders: tuple[Decide, Decide],
    turns: Turns,
    buf: np.ndarray,
) -> None:
    """Play the games of ``batch`` to the end."""
    states = batch.states
    rows = np.arange(states.shape[0])
    while True:
        for vec in states:
            while vec[k.F_PHASE] != k.PHASE_TERMINAL and k.legal_actions(vec, buf) == 1:
                k.apply_unchecked(vec, buf[0])
        live = states[:, k.F_PHASE] != k.PHASE_TERMINAL  # [G]
        if not live.any():
            return
        acting = owner[rows, np.maximum(states[:, k.F_PLAYER], 0)]  # [G] side to act
        for side in SIDES:
            if turns == "side":
                live &= states[:, k.F_PHASE] != k.PHASE_TERMINAL
                acting = owner[rows, np.maximum(states[:, k.F_PLAYER], 0)]
            active = live & (acting == side)
            if not active.any():
                continue
            actions = deciders[side](batch, active)
            for i, action in zip(np.flatnonzero(active).tolist(), actions, strict=True):
                batch.games[i].apply(int(action))
