"""A fake Coordinator for the API tests: the real state machine and a thread-safe event log."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import replace
from typing import Any

from blobrl.run.control import TRANSITIONS, ControlResult, CoordinatorStatus

STATUS = CoordinatorStatus(
    state="running",
    iteration=3,
    iterations=10,
    games_played=130,
    games_total=1000,
    progress=0.13,
    iteration_games=30,
    iteration_games_total=100,
    games_per_min=60.0,
    eta_s=870.0,
    phase=1,
    determinizations=2,
    simulations=25,
    weights_version=2,
    trained_iterations=2,
    buffer_positions=5000,
    lr=5e-4,
    actors=2,
    timestamp=0.0,
    error=None,
)

CONFIG_VIEW = {
    "config": {
        "run": {"iterations": 10, "name": "fake"},
        "api": {"token": "***"},
        "schedule": {"phases": [{"first": 1, "last": 10, "games_per_iteration": 100}]},
    },
    "phase": {
        "index": 1,
        "first": 1,
        "last": 10,
        "determinizations": 2,
        "simulations": 25,
        "games_per_iteration": 100,
        "root": "puct",
    },
    "iteration": 3,
    "learning_rate": 5e-4,
}


def loss_entry(iteration: int) -> dict[str, Any]:
    return {
        "iteration": iteration,
        "steps": 10,
        "skipped_steps": 0,
        "policy_loss": 2.0 / iteration,
        "value_loss": 0.5 / iteration,
        "total_loss": 2.5 / iteration,
        "policy_accuracy": 0.3,
        "policy_entropy": 1.5,
        "value_error": 0.2,
        "grad_norm": math.nan,  # a skipped step: must come out as null
        "lr": 5e-4,
        "positions": 4000,
        "samples": 10240,
        "positions_total": 4000 * iteration,
        "samples_total": 10240 * iteration,
        "curve": [
            {
                "step": 10 * (iteration - 1) + k,
                "policy_loss": 2.0 / iteration,
                "value_loss": 0.5,
                "total_loss": 2.5 / iteration,
                "trick_loss": 1.0 / iteration,
                "lr": 5e-4,
            }
            for k in (5, 10)
        ],
        "train_started": 1_700_000_000.0 + 60.0 * iteration,  # 100 games a minute
        "train_seconds": 12.5,
        "buffer_positions": 4000 * iteration,
    }


def gauntlet_entry(iteration: int) -> dict[str, Any]:
    def match(opponent: str, score: float, exact: float) -> dict[str, Any]:
        return {"opponent": opponent, "players": 5, "cards": 7, "deals": 100, "score": score,
                "score_ci95": 0.4, "opponent_score": score - 1.5, "opponent_ci95": 0.4,
                "diff": 1.5, "diff_ci95": 0.3, "exact_rate": exact, "opponent_exact_rate": 0.2,
                "share": 0.6, "share_se": 0.05, "verdict": "stronger"}  # fmt: skip

    return {
        "iteration": iteration,
        "seconds": 30.0,
        "matches": [
            match("random", 4.0 + 0.1 * iteration, 0.40),
            match("heuristic", 3.0 + 0.1 * iteration, 0.35),
            match("ismcts:1000", 2.0 + 0.1 * iteration, 0.30),
        ],
    }


def elo_entry(iteration: int) -> dict[str, Any]:
    return {
        "iteration": iteration,
        "elo": 100.0 + 20 * iteration,  # rating, random = 0
        "ci95": 30.0,
        "share": 0.56,
        "score_share": 0.53,
        "elo_diff": 20.9,
        "elo_diff_ci95": 25.0,
        "promoted": iteration % 2 == 0,
        "candidate_score": 3.0,
        "best_score": 2.5,
        "best_version": iteration - 1,
        "seconds": 20.0,
    }


class FakeCoordinator:
    """Implements the API's CoordinatorClient. Control follows the real TRANSITIONS table;
    ``pausing`` settles to ``paused`` only when :meth:`settle` is called (as the Coordinator's
    loop does once every actor holds its games)."""

    def __init__(self, state: str = "running"):
        self.state = state
        self.games_played = STATUS.games_played
        self.iteration = STATUS.iteration
        self.history_data: dict[str, list[dict[str, Any]]] = {
            "elo": [elo_entry(1), elo_entry(2)],
            "loss": [loss_entry(1), loss_entry(2)],
            "gauntlet": [gauntlet_entry(1), gauntlet_entry(2)],
        }
        self.commands: list[str] = []
        self._events: list[dict[str, Any]] = []
        self._ready = threading.Condition()

    # ---- what tests drive ---------------------------------------------------------------------
    def emit(self, kind: str, data: dict[str, Any]) -> None:
        with self._ready:
            seq = len(self._events) + 1
            self._events.append({"seq": seq, "type": kind, "data": data, "timestamp": time.time()})
            self._ready.notify_all()

    def settle(self) -> None:
        if self.state == "pausing":
            self.state = "paused"
            self.emit("state", {"state": "paused", "previous": "pausing"})
        elif self.state == "stopping":
            self.state = "stopped"
            self.emit("state", {"state": "stopped"})

    # ---- CoordinatorClient --------------------------------------------------------------------
    async def status(self) -> CoordinatorStatus:
        return replace(
            STATUS,
            state=self.state,
            games_played=self.games_played,
            progress=self.games_played / STATUS.games_total,
            iteration=self.iteration,
            trained_iterations=self.iteration - 1,
            timestamp=time.time(),
        )

    async def metrics(self) -> dict[str, Any]:
        return {
            "iteration": 2,
            "policy_loss": 1.0,
            "value_loss": 0.25,
            "total_loss": 1.25,
            "policy_accuracy": 0.3,
            "policy_entropy": 1.5,
            "value_calibration_error": 0.2,
            "learning_rate": 5e-4,
            "elo": 140.0,
            "elo_ci95": 30.0,
            "best_elo": 140.0,
            "best_elo_ci95": 30.0,
            "baselines": {
                "random": {"elo": 0.0, "ci95": 0.0},
                "heuristic": {"elo": 180.0, "ci95": 40.0},
                "ismcts:1000": {"elo": None, "ci95": None},  # not placed yet
            },
            "best_version": 2,
            "games_played": self.games_played,
            "games_per_min": 60.0,
            "buffer_positions": 5000,
            "selfplay_evaluations": 1000,
            "selfplay_eval_fraction": None,
            "inference_batch_size": None,
            "inference_evals_per_s": math.inf,  # not finite: must come out as null
            "inference_queue_wait_ms": None,
            "gpu_memory_bytes": 0,
            "learner_steps_per_s": 3.0,
            "replay_ratio": 2.5,
            "replay_ratio_last": 2.56,
            "replay_ratio_run": 2.5,
            "positions_generated": 8000,
            "samples_trained": 20000,
            "actors": 2,
            "timestamp": time.time(),
            "something_new": 1,  # not in the schema: dropped
        }

    async def config_view(self) -> dict[str, Any]:
        return CONFIG_VIEW

    async def history(self) -> dict[str, list[dict[str, Any]]]:
        return {k: list(v) for k, v in self.history_data.items()}

    async def control(self, command: str) -> ControlResult:
        self.commands.append(command)
        allowed = TRANSITIONS.get(command)
        if allowed is None:
            return ControlResult(False, f"unknown command {command!r}", self.state)
        if self.state not in allowed:
            return ControlResult(False, f"cannot {command} while {self.state}", self.state)
        before, self.state = self.state, allowed[self.state]
        self.emit("state", {"state": self.state, "previous": before})
        return ControlResult(True, f"{command}: {before} -> {self.state}", self.state)

    async def events_since(self, seq: int, timeout: float) -> tuple[list[dict[str, Any]], int]:
        return await asyncio.to_thread(self._wait, seq, timeout)

    def _wait(self, seq: int, timeout: float) -> tuple[list[dict[str, Any]], int]:
        with self._ready:
            if len(self._events) <= seq:
                self._ready.wait(timeout)
            return [e for e in self._events if e["seq"] > seq], len(self._events)
