"""The replay buffer: a ring of recent self-play positions in preallocated arrays.

Bytes per position (``bytes_per_position()`` = 394):

==================  ===================  =====
array               dtype[shape]         bytes
==================  ===================  =====
feature bits        uint8[141]           141
continuous feats    float16[36]          72
legal actions       uint8[9] (packed)    9
policy target       float16[65]          130
value targets       float16[8]           16
trick targets       int8[8]              8
num_players         int8                 1
num_cards           int8                 1
game id             int64                8
iteration           int32                4
weight version      int32                4
==================  ===================  =====

so a million positions take 394 MB. The buffer is not saved: on resume it is rebuilt from the
durable game log.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from blobrl.data import CONT, STORED_BIT_BYTES, GameRecord, TrainingBatch, unpack_features
from blobrl.game import MAX_PLAYERS, NUM_ACTIONS

LEGAL_BYTES = (NUM_ACTIONS + 7) // 8
VALUE_HISTOGRAM_BINS = 10  # over [0, 1], the range of normalized scores


@dataclass(frozen=True)
class ValueStats:
    """Distribution of the acting seat's value target over the buffer."""

    mean: float
    std: float
    histogram: tuple[int, ...]  # counts over VALUE_HISTOGRAM_BINS equal bins of [0, 1]


@dataclass(frozen=True)
class ReplayStats:
    size: int  # positions held
    capacity: int
    games_added: int  # games ever added
    positions_added: int  # positions ever added
    games_held: int  # games with at least one position in the buffer
    mean_game_length: float  # recorded positions per game, over the games ever added
    value: ValueStats
    game_mix: dict[tuple[int, int], int]  # (players, cards) -> games held
    oldest_iteration: int  # of the positions held; 0 when empty
    newest_iteration: int


class ReplayBuffer:
    """Capacity-bounded FIFO of positions with uniform sampling.

    Adding past capacity overwrites the oldest positions. Sampling unpacks the compact storage
    into the float arrays the learner trains on.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        cap = self.capacity
        self._bits = np.zeros((cap, STORED_BIT_BYTES), np.uint8)
        self._cont = np.zeros((cap, CONT), np.float16)
        self._legal = np.zeros((cap, LEGAL_BYTES), np.uint8)
        self._policy = np.zeros((cap, NUM_ACTIONS), np.float16)
        self._value = np.zeros((cap, MAX_PLAYERS), np.float16)
        self._tricks = np.full((cap, MAX_PLAYERS), -1, np.int8)
        self._num_players = np.zeros(cap, np.int8)
        self._num_cards = np.zeros(cap, np.int8)
        self._game_id = np.zeros(cap, np.int64)
        self._iteration = np.zeros(cap, np.int32)
        self._weight_version = np.zeros(cap, np.int32)
        self._next = 0  # slot the next position goes to
        self._size = 0
        self.games_added = 0
        self.positions_added = 0
        # Games held, oldest first: [players, cards, positions still held]. The ring is FIFO,
        # so overwrites always eat the front of this queue.
        self._games: collections.deque[list[int]] = collections.deque()
        self._mix: collections.Counter[tuple[int, int]] = collections.Counter()

    @staticmethod
    def bytes_per_position() -> int:
        return (
            STORED_BIT_BYTES
            + 2 * CONT
            + LEGAL_BYTES
            + 2 * NUM_ACTIONS
            + 2 * MAX_PLAYERS
            + MAX_PLAYERS
            + 1
            + 1
            + 8
            + 4
            + 4
        )

    @property
    def nbytes(self) -> int:
        return self.capacity * self.bytes_per_position()

    def __len__(self) -> int:
        return self._size

    def add_game(self, record: GameRecord) -> None:
        """Store the positions of one finished game (at most the last ``capacity``)."""
        t = record.num_positions
        self.games_added += 1
        self.positions_added += t
        if t == 0:
            return
        keep = min(t, self.capacity)
        src = slice(t - keep, t)
        self._evict(keep)
        slots = (self._next + np.arange(keep)) % self.capacity  # [keep]
        self._bits[slots] = record.feature_bits[src]
        self._cont[slots] = record.feature_cont[src]
        self._legal[slots] = np.packbits(np.asarray(record.legal[src], np.bool_), axis=1)
        self._policy[slots] = record.policy[src]
        self._value[slots] = record.value_targets()[src]
        self._tricks[slots] = record.trick_targets()[src]
        self._num_players[slots] = record.num_players
        self._num_cards[slots] = record.num_cards
        self._game_id[slots] = record.game_id
        self._iteration[slots] = record.iteration
        self._weight_version[slots] = record.weight_version
        self._next = (self._next + keep) % self.capacity
        self._size = min(self._size + keep, self.capacity)
        self._games.append([record.num_players, record.num_cards, keep])
        self._mix[(record.num_players, record.num_cards)] += 1

    def _evict(self, incoming: int) -> None:
        """Account for the oldest positions that ``incoming`` new ones will overwrite."""
        excess = self._size + incoming - self.capacity
        while excess > 0:
            game = self._games[0]
            taken = min(excess, game[2])
            game[2] -= taken
            excess -= taken
            if game[2] == 0:
                self._games.popleft()
                deal = (game[0], game[1])
                self._mix[deal] -= 1
                if self._mix[deal] == 0:
                    del self._mix[deal]

    def sample(self, batch_size: int, rng: np.random.Generator) -> TrainingBatch:
        """``batch_size`` positions drawn uniformly with replacement, as the float arrays the
        learner trains on."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        idx = rng.integers(0, self._size, size=batch_size)  # [B]
        seats = np.arange(MAX_PLAYERS)[None, :] < self._num_players[idx, None]  # [B, 8]
        legal = np.unpackbits(self._legal[idx], axis=1, count=NUM_ACTIONS).astype(np.bool_)
        return TrainingBatch(
            features=unpack_features(self._bits[idx], self._cont[idx]),
            legal_mask=legal,
            policy_target=self._policy[idx].astype(np.float32),
            value_target=self._value[idx].astype(np.float32),
            seat_mask=seats,
            trick_target=self._tricks[idx].astype(np.int64),
        )

    def stats(self) -> ReplayStats:
        n = self._size
        own_value = self._value[:n, 0].astype(np.float32)  # [n]
        hist, _ = np.histogram(own_value, bins=VALUE_HISTOGRAM_BINS, range=(0.0, 1.0))
        iterations = self._iteration[:n]
        return ReplayStats(
            size=n,
            capacity=self.capacity,
            games_added=self.games_added,
            positions_added=self.positions_added,
            games_held=len(self._games),
            mean_game_length=self.positions_added / self.games_added if self.games_added else 0.0,
            value=ValueStats(
                mean=float(own_value.mean()) if n else 0.0,
                std=float(own_value.std()) if n else 0.0,
                histogram=tuple(int(c) for c in hist),
            ),
            game_mix=dict(sorted(self._mix.items())),
            oldest_iteration=int(iterations.min()) if n else 0,
            newest_iteration=int(iterations.max()) if n else 0,
        )
