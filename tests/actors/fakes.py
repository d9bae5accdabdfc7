"""Test doubles for the actor system."""

from __future__ import annotations

from typing import Any


class MemoryJournal:
    """Keeps what the Coordinator makes durable in memory."""

    def __init__(self) -> None:
        self.games: list[Any] = []
        self.events: list[dict[str, Any]] = []
        self.checkpoints: dict[int, dict[str, Any]] = {}
        self.best: list[tuple[int, dict[str, Any]]] = []
        self.flushes = 0

    def record_game(self, record) -> None:
        self.games.append(record)

    def record_event(self, event) -> None:
        self.events.append(event)

    def save_checkpoint(self, iteration, payload) -> None:
        self.checkpoints[iteration] = payload

    def save_best(self, iteration, weights, meta) -> None:
        self.best.append((iteration, meta))

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        pass
