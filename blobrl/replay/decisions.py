"""Card decisions of self-play searches, as the learned rollout rule is fitted to them.

Every recorded card play of a game (a decision with more than one legal card) becomes one row:
the features of each legal card (:func:`blobrl.mcts.rollout.card_features`, what the acting seat
knows), the context that selects the weight block, the share of the remaining tricks the seat
still needs, and the search's visit share of each card (the game's policy target). The rows are
recomputed from the record by replaying its deal, so the records (and the game log) carry
nothing extra. :class:`CardDecisionBuffer` keeps the newest of them for
:func:`blobrl.learner.rollout_fit.fit_rollout`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from blobrl.data import GameRecord
from blobrl.game import core as k
from blobrl.game import new_game
from blobrl.mcts.rollout import BASE, MAX_LEGAL, card_features


@dataclass(frozen=True)
class CardDecisions:
    """``D`` card decisions; card slots beyond a row's legal cards are zero and not ``legal``."""

    features: np.ndarray  # float32[D, MAX_LEGAL, BASE]
    legal: np.ndarray  # bool[D, MAX_LEGAL]
    block: np.ndarray  # int64[D]: weight block (context) of the decision
    share: np.ndarray  # float32[D]: share of the remaining tricks the seat still needs
    target: np.ndarray  # float32[D, MAX_LEGAL]: the search's visit share of each card

    def __len__(self) -> int:
        return int(self.block.shape[0])

    @staticmethod
    def empty(size: int = 0) -> CardDecisions:
        return CardDecisions(
            features=np.zeros((size, MAX_LEGAL, BASE), np.float32),
            legal=np.zeros((size, MAX_LEGAL), np.bool_),
            block=np.zeros(size, np.int64),
            share=np.zeros(size, np.float32),
            target=np.zeros((size, MAX_LEGAL), np.float32),
        )

    def take(self, index: np.ndarray) -> CardDecisions:
        """The rows at ``index``."""
        return CardDecisions(
            self.features[index],
            self.legal[index],
            self.block[index],
            self.share[index],
            self.target[index],
        )


class RecordMismatch(ValueError):
    """A record's positions do not follow its deal and actions."""


def card_decisions(record: GameRecord, *, trump_mode: str) -> CardDecisions:
    """The card decisions of ``record`` (its deal replayed under ``trump_mode``)."""
    state = new_game(
        record.num_players, record.num_cards, seed=record.seed, trump_mode=trump_mode
    ).vector.copy()
    out = CardDecisions.empty(record.num_positions)
    found = _replay(
        state,
        np.asarray(record.actions, np.int64),
        np.asarray(record.players, np.int64),
        np.asarray(record.policy, np.float32),
        out.features,
        out.legal,
        out.block,
        out.share,
        out.target,
    )
    if found < 0:
        raise RecordMismatch(
            f"game {record.game_id} (seed {record.seed}): its positions do not follow its deal "
            f"under trump mode {trump_mode!r}"
        )
    return out.take(np.arange(found))


@njit(cache=True)
def _replay(state, actions, players, policy, features, legal, block, share, target) -> int:
    """Play ``actions`` from ``state``; write a row per recorded card decision. Returns the
    number of rows, or -1 when the recorded positions do not match the replay."""
    buf = np.zeros(k.NUM_ACTIONS, np.int64)
    cards = np.zeros(MAX_LEGAL, np.int64)
    feats = np.zeros((MAX_LEGAL, BASE), np.float64)
    position = 0
    rows = 0
    for action in actions:
        if k.legal_actions(state, buf) > 1:
            if position >= players.shape[0] or players[position] != state[k.F_PLAYER]:
                return -1
            if state[k.F_PHASE] == k.PHASE_PLAY:
                m, b, s = card_features(state, cards, feats)
                total = 0.0
                for j in range(m):
                    total += policy[position, cards[j]]
                for j in range(m):
                    features[rows, j, :] = feats[j]
                    legal[rows, j] = True
                    target[rows, j] = policy[position, cards[j]] / total if total > 0 else 1.0 / m
                block[rows] = b
                share[rows] = s
                rows += 1
            position += 1
        k.apply_unchecked(state, action)
    if position != players.shape[0]:
        return -1
    return rows


class CardDecisionBuffer:
    """The newest ``capacity`` card decisions, in a ring (float16 features: 364 bytes each)."""

    def __init__(self, capacity: int, *, trump_mode: str) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.trump_mode = trump_mode
        self._features = np.zeros((capacity, MAX_LEGAL, BASE), np.float16)
        self._legal = np.zeros((capacity, MAX_LEGAL), np.bool_)
        self._block = np.zeros(capacity, np.int8)
        self._share = np.zeros(capacity, np.float16)
        self._target = np.zeros((capacity, MAX_LEGAL), np.float16)
        self._next = 0
        self._size = 0
        self.added = 0

    def __len__(self) -> int:
        return self._size

    def add_game(self, record: GameRecord) -> None:
        self.add(card_decisions(record, trump_mode=self.trump_mode))

    def add(self, rows: CardDecisions) -> None:
        count = min(len(rows), self.capacity)
        self.added += len(rows)
        if count == 0:
            return
        src = slice(len(rows) - count, len(rows))
        slots = (self._next + np.arange(count)) % self.capacity
        self._features[slots] = rows.features[src]
        self._legal[slots] = rows.legal[src]
        self._block[slots] = rows.block[src]
        self._share[slots] = rows.share[src]
        self._target[slots] = rows.target[src]
        self._next = (self._next + count) % self.capacity
        self._size = min(self._size + count, self.capacity)

    def held(self) -> CardDecisions:
        """Every decision held (float32 copies)."""
        n = self._size
        return CardDecisions(
            self._features[:n].astype(np.float32),
            self._legal[:n].copy(),
            self._block[:n].astype(np.int64),
            self._share[:n].astype(np.float32),
            self._target[:n].astype(np.float32),
        )
