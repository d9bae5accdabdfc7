"""The control vocabulary of a run: the allowed transitions between its states
(:class:`~blobrl.data.RunState`), what the Coordinator answers, and where it makes progress
durable (shared by the Coordinator, the API and the launcher)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from blobrl.checkpoint import IterationDone, Progress
from blobrl.data import STATES, GameRecord, RunState

IDLE, RUNNING, PAUSING, PAUSED, STOPPING, STOPPED = RunState
__all__ = ["STATES", "TRANSITIONS", "ControlResult", "CoordinatorStatus", "Journal"]

# Which control command is allowed from which state, and where it leads.
TRANSITIONS: dict[str, dict[str, str]] = {
    "start": {IDLE: RUNNING, PAUSED: RUNNING},
    "pause": {RUNNING: PAUSING},
    "resume": {PAUSED: RUNNING, PAUSING: RUNNING},
    "stop": {IDLE: STOPPING, RUNNING: STOPPING, PAUSING: STOPPING, PAUSED: STOPPING},
}


class Journal(Protocol):
    """Where the Coordinator makes progress durable (see blobrl.checkpoint)."""

    def record_game(self, record: GameRecord) -> None: ...
    def record_event(self, event: Progress | IterationDone) -> None: ...
    def save_checkpoint(self, iteration: int, payload: dict[str, Any]) -> None: ...
    def save_best(self, iteration: int, weights: bytes, meta: dict[str, Any]) -> None: ...
    def replay_games(self, on_game: Callable[[GameRecord], None]) -> int: ...
    def latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None: ...
    def checkpoint(self, iteration: int) -> dict[str, Any] | None: ...
    def best_weights(self) -> bytes | None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class ControlResult:
    success: bool
    message: str
    state: str


@dataclass(frozen=True)
class CoordinatorStatus:
    state: str
    iteration: int  # the iteration now being played (1-based; total + 1 once finished)
    iterations: int
    games_played: int  # finished games of the whole run (resumed runs included)
    games_total: int
    progress: float  # games_played / games_total
    iteration_games: int  # finished games of the current iteration
    iteration_games_total: int
    games_per_min: float
    eta_s: float | None
    phase: int  # index of the schedule phase now played
    determinizations: int
    simulations: int
    weights_version: int
    trained_iterations: int
    buffer_positions: int
    lr: float
    actors: int
    timestamp: float
    error: str | None
    notice: str | None = None  # why the run paused itself (a low disk), while it holds
