"""ReplayService: the replay buffer as the ReplayBufferActor serves it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import numpy as np

from blobrl.data import GameRecord, TrainingBatch
from blobrl.replay import CardDecisionBuffer, CardDecisions, ReplayBuffer, ReplayStats
from blobrl.replay.decisions import RecordMismatch

log = logging.getLogger(__name__)


class ReplayService:
    """Holds positions of recent games; samples training batches uniformly. With
    ``card_decisions`` it also keeps that many of the newest card decisions, which the learned
    rollout rule is fitted to (their deals replayed under ``trump_mode``)."""

    def __init__(
        self,
        capacity: int,
        *,
        seed: int = 0,
        card_decisions: int = 0,
        trump_mode: str = "rotation",
    ):
        self.buffer = ReplayBuffer(capacity)
        self.decisions = (
            CardDecisionBuffer(card_decisions, trump_mode=trump_mode) if card_decisions else None
        )
        self._rng = np.random.default_rng(seed)
        self._instance = uuid.uuid4().hex  # a restarted buffer (empty) has a new one
        log.info("replay buffer ready: %d positions", capacity)

    def add_games(self, records: list[GameRecord]) -> int:
        """Add finished games; returns the number of positions held."""
        for record in records:
            self.buffer.add_game(record)
            if self.decisions is not None:
                try:
                    self.decisions.add_game(record)
                except RecordMismatch as e:  # its positions still train the network
                    log.warning("no card decisions from a game: %s", e)
        return len(self.buffer)

    def card_decisions(self) -> CardDecisions:
        """The newest card decisions held (none without ``card_decisions``)."""
        return CardDecisions.empty() if self.decisions is None else self.decisions.held()

    def clear(self) -> None:
        """Drop every position (before a rebuild from the game log)."""
        self.buffer = ReplayBuffer(self.buffer.capacity)
        if self.decisions is not None:
            self.decisions = CardDecisionBuffer(
                self.decisions.capacity, trump_mode=self.decisions.trump_mode
            )

    def sample(self, batch_size: int) -> TrainingBatch:
        return self.buffer.sample(batch_size, self._rng)

    def rng_state(self) -> dict[str, Any]:
        """The sampler's random state (checkpointed with each iteration)."""
        return dict(self._rng.bit_generator.state)

    def set_rng_state(self, state: dict[str, Any]) -> None:
        """Continue sampling from a checkpointed :meth:`rng_state`."""
        self._rng.bit_generator.state = state

    def size(self) -> int:
        return len(self.buffer)

    def stats(self) -> ReplayStats:
        return self.buffer.stats()

    def instance(self) -> str:
        """Identifies this buffer's lifetime: it changes when the actor is restarted."""
        return self._instance
