"""Timed self-play for the benchmarks: decisions searched in a steady-state window."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any


def timed(work: Callable[[], int], seconds: float) -> tuple[int, float]:
    """(units done, seconds taken) repeating ``work`` (which returns the units it did) for at
    least ``seconds``."""
    done, start = 0, time.perf_counter()
    while True:
        done += work()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done, elapsed


def play_window(
    worker: Any, warm_s: float, seconds: float, seed: int, *, players: int = 5, cards: int = 7
) -> tuple[int, int, int, int]:
    """Plays ``players`` x ``cards`` hands on a ``SelfPlayWorker`` (a new one starting as each
    ends, as in a run) for ``warm_s`` and then ``seconds``. Returns the decisions searched and
    the hands finished within those ``seconds``, and the hands finished and their decisions
    over the whole play. Decisions, not finished hands, measure the rate: the games in flight
    move in lock-step and finish in waves."""
    from blobrl.selfplay import GameSpec

    stats = worker.stats
    start = time.perf_counter()
    window, deadline = start + warm_s, start + warm_s + seconds
    at_window: list[int] = []

    def should_stop() -> bool:
        now = time.perf_counter()
        if now >= window and not at_window:
            at_window.append(stats.decisions)
        return now >= deadline

    specs = (GameSpec(players, cards, seed=seed + i) for i in itertools.count())
    in_window = games = positions = 0
    for record in worker.play_iter(specs, should_stop=should_stop):
        games += 1
        positions += record.num_positions
        in_window += window <= time.perf_counter() < deadline
    searched = stats.decisions - at_window[0] if at_window else 0
    return searched, in_window, games, positions
