"""Test doubles for the actor system."""

from __future__ import annotations

from typing import Any


class MemoryJournal:
    """Keeps what the Coordinator makes durable in memory."""

    def __init__(self) -> None:
        self.games: list[Any] = []
        self.events: list[dict[str, Any]] = []
        self.checkpoints: dict[int, dict[str, Any]] = {}
        self.best: list[tuple[int, dict[str, Any], bytes]] = []
        self.flushes = 0

    def record_game(self, record) -> None:
        self.games.append(record)

    def record_event(self, event) -> None:
        self.events.append(event)

    def save_checkpoint(self, iteration, payload) -> None:
        self.checkpoints[iteration] = payload

    def save_best(self, iteration, weights, meta) -> None:
        self.best.append((iteration, meta, weights))

    def replay_games(self, on_game) -> int:
        for record in self.games:
            on_game(record)
        return len(self.games)

    def latest_checkpoint(self):
        if not self.checkpoints:
            return None
        last = max(self.checkpoints)
        return last, self.checkpoints[last]

    def checkpoint(self, iteration):
        return self.checkpoints.get(iteration)

    def best_weights(self):
        return self.best[-1][2] if self.best else None

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        pass
