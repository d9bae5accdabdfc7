"""Chart series from the Coordinator's history, in iteration order."""

from __future__ import annotations

from typing import Any


def elo_series(history: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return sorted(history.get("elo", []), key=lambda e: e.get("iteration", 0))


def loss_series(history: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return sorted(history.get("loss", []), key=lambda e: e.get("iteration", 0))
