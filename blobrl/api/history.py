"""Chart series from the Coordinator's history, in iteration order."""

from __future__ import annotations

from typing import Any

from blobrl.learner import realized_ratio
from blobrl.telemetry.names import finite_or_none

History = dict[str, list[dict[str, Any]]]


def _by_iteration(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: e.get("iteration", 0))


def elo_series(history: History) -> list[dict[str, Any]]:
    return _by_iteration(history.get("elo", []))


def loss_series(history: History) -> list[dict[str, Any]]:
    return _by_iteration(history.get("loss", []))


def gauntlet_series(history: History) -> list[dict[str, Any]]:
    return _by_iteration(history.get("gauntlet", []))


def step_series(history: History) -> list[dict[str, Any]]:
    """The learning curve: every iteration's points (a few per iteration), in step order."""
    points = [
        {"iteration": entry["iteration"], **point}
        for entry in loss_series(history)
        for point in entry.get("curve", ())
    ]
    return sorted(points, key=lambda p: p["step"])


def games_per_iteration(config: dict[str, Any], iteration: int) -> int:
    """Games the schedule of the resolved ``config`` plays in ``iteration`` (0 outside it)."""
    for phase in config.get("schedule", {}).get("phases", []):
        if phase["first"] <= iteration <= phase["last"]:
            return int(phase["games_per_iteration"])
    return 0


def throughput_series(history: History, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Per trained iteration: how long its self-play, training and evaluation took, games per
    minute, the buffer and the realised data reuse. An iteration's self-play time is the time
    between the moments its games and the previous iteration's were all in (training starts at
    those moments), so it is the run's pace, training included when training is the slower."""
    arenas = {e["iteration"]: e.get("seconds") for e in elo_series(history)}
    gauntlets = {e["iteration"]: e.get("seconds") for e in gauntlet_series(history)}
    rows = []
    previous: float | None = None
    for entry in loss_series(history):
        iteration = int(entry["iteration"])
        started = finite_or_none(entry.get("train_started"))
        games = games_per_iteration(config, iteration)
        selfplay = started - previous if started is not None and previous is not None else None
        rows.append(
            {
                "iteration": iteration,
                "time": started,
                "games": games,
                "selfplay_seconds": selfplay,
                "games_per_min": 60.0 * games / selfplay if selfplay else None,
                "train_seconds": entry.get("train_seconds"),
                "arena_seconds": arenas.get(iteration),
                "gauntlet_seconds": gauntlets.get(iteration),
                "buffer_positions": entry.get("buffer_positions"),
                "replay_ratio": realized_ratio(entry.get("samples", 0), entry.get("positions", 0)),
                "replay_ratio_run": realized_ratio(
                    entry.get("samples_total", 0), entry.get("positions_total", 0)
                ),
            }
        )
        previous = started
    return rows
