"""Typed records of finished self-play games: what self-play hands to the replay buffer and the
game log."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blobrl.data.codec import CONT_INDEX
from blobrl.game import MAX_PLAYERS, NUM_ACTIONS
from blobrl.game import encoding as enc


@dataclass
class GameRecord:
    """One finished hand and its training positions.

    ``T`` is the number of searched decisions (forced moves, with one legal action, are played but
    not recorded as positions: their policy target carries no information).
    """

    seed: int  # the deal is reproducible from (num_players, num_cards, seed)
    num_players: int
    num_cards: int
    weight_version: int  # network version that produced the game
    determinizations: int
    simulations: int
    actions: np.ndarray  # int16[N + N*C]: the whole hand, bids then cards, in order
    players: np.ndarray  # int8[T]: acting seat of each recorded decision
    feature_bits: np.ndarray  # uint8[T, STORED_BIT_BYTES]: packed information state
    feature_cont: np.ndarray  # float16[T, CONT]
    legal: np.ndarray  # bool[T, 65]
    policy: np.ndarray  # float16[T, 65]: search distribution, zero on illegal actions
    scores: np.ndarray  # float32[N]: final scores by absolute seat
    iteration: int = 0
    game_id: int = 0
    tricks: np.ndarray | None = None  # int8[N]: final tricks by absolute seat (None: unknown)

    @property
    def num_positions(self) -> int:
        return int(self.players.shape[0])

    def value_targets(self) -> np.ndarray:
        """``float32[T, 8]``: final scores normalized by 10 + C, rotated so entry 0 is the
        acting seat of each decision; zero beyond N."""
        n = self.num_players
        norm = self.scores.astype(np.float32) / (10.0 + self.num_cards)
        rel = (self.players.astype(np.int64)[:, None] + np.arange(n)[None, :]) % n  # [T, N]
        out = np.zeros((self.num_positions, MAX_PLAYERS), np.float32)
        out[:, :n] = norm[rel]
        return out

    def trick_targets(self) -> np.ndarray:
        """``int8[T, 8]``: tricks each relative seat still takes from each decision on (its
        final tricks less those already won, read from the features); -1 beyond N, or
        everywhere when the record has no final trick counts."""
        out = np.full((self.num_positions, MAX_PLAYERS), -1, np.int8)
        if self.tricks is None or self.num_positions == 0:
            return out
        n, c = self.num_players, self.num_cards
        seat_tricks = enc.OFF_SEATS + enc.SEAT_TRICKS + enc.SEAT_FEATURES * np.arange(n)
        columns = np.searchsorted(CONT_INDEX, seat_tricks)  # [N] columns of feature_cont
        won = np.rint(self.feature_cont[:, columns].astype(np.float32) * c).astype(np.int64)
        rel = (self.players.astype(np.int64)[:, None] + np.arange(n)[None, :]) % n  # [T, N]
        out[:, :n] = np.asarray(self.tricks, np.int64)[rel] - won
        return out

    def seat_mask(self) -> np.ndarray:
        """``bool[T, 8]``: which relative seats exist."""
        out = np.zeros((self.num_positions, MAX_PLAYERS), np.bool_)
        out[:, : self.num_players] = True
        return out

    def __post_init__(self) -> None:
        t = self.players.shape[0]
        if self.legal.shape != (t, NUM_ACTIONS) or self.policy.shape != (t, NUM_ACTIONS):
            raise ValueError("legal and policy must be [T, 65]")
        if self.feature_bits.shape[0] != t or self.feature_cont.shape[0] != t:
            raise ValueError("feature arrays must have one row per decision")
        if self.tricks is not None and self.tricks.shape != (self.num_players,):
            raise ValueError("tricks must hold one count per seat")
