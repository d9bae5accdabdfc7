"""Services with known answers for driving the run's pieces, and the Coordinator, step by step.

Every fake answers at once; behind ``LocalHandle(..., inline=True)`` a call is done when it
returns, so a test calls :meth:`Coordinator.step` and reads the outcome with no waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blobrl.data import GameRecord
from blobrl.evaluation import MatchResult, SideStats
from blobrl.evaluation.gauntlet import GauntletResult
from blobrl.learner import IterationMetrics
from blobrl.remote import LocalHandle
from blobrl.selfplay import SelfPlayStatus


def record_of(spec, *, version: int = 0, positions: int = 3) -> GameRecord:
    """A finished game for ``spec`` with ``positions`` (empty) training positions."""
    t = positions
    return GameRecord(
        seed=spec.seed, num_players=spec.num_players, num_cards=spec.num_cards,
        weight_version=version, determinizations=1, simulations=1,
        actions=np.zeros(0, np.int16), players=np.zeros(t, np.int8),
        feature_bits=np.zeros((t, 1), np.uint8), feature_cont=np.zeros((t, 1), np.float16),
        legal=np.zeros((t, 65), bool), policy=np.zeros((t, 65), np.float16),
        scores=np.zeros(spec.num_players, np.float32), iteration=spec.iteration,
        game_id=spec.game_id,
    )  # fmt: skip


@dataclass
class FakeSelfPlay:
    """Plays every game it is given the moment it is asked what finished (unless paused)."""

    name: str = "selfplay"
    queued: list = field(default_factory=list)
    paused: bool = False
    version: int = -1
    settings: Any = None
    fail: bool = False  # every call raises (a lost actor)
    calls: list[str] = field(default_factory=list)

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if self.fail:
            raise RuntimeError(f"{self.name} is gone")

    def submit(self, specs):
        self._call("submit")
        self.queued.extend(specs)
        return len(self.queued)

    def collect(self):
        self._call("collect")
        if self.paused:
            return []
        done, self.queued = self.queued, []
        return [record_of(s, version=self.version) for s in done]

    def set_weights(self, weights, version):
        self._call("set_weights")
        self.version = version

    def set_settings(self, settings):
        self._call("set_settings")
        self.settings = settings

    def pause(self):
        self._call("pause")
        self.paused = True

    def resume(self):
        self._call("resume")
        self.paused = False

    def stop(self, timeout: float = 5.0):
        self._call("stop")

    def status(self):
        self._call("status")
        return SelfPlayStatus(
            name=self.name, games=0, positions=0, queued=len(self.queued), finished_waiting=0,
            paused=self.paused, weight_version=self.version, eval_fraction=0.5, evaluations=0,
            alive=True, error=None, node_id=None,
        )  # fmt: skip


class FakeReplay:
    def __init__(self) -> None:
        self.positions = 0
        self.rng = {"state": 1}

    def instance(self):
        return "replay-1"

    def add_games(self, records):
        self.positions += sum(r.num_positions for r in records)
        return self.positions

    def clear(self):
        self.positions = 0

    def rng_state(self):
        return dict(self.rng)

    def set_rng_state(self, state):
        self.rng = dict(state)


class FakeLearner:
    """Trains an iteration the moment it is asked; weights are ``b"w<version>"``."""

    def __init__(self) -> None:
        self.version = 0
        self.trained: list[tuple[int, int]] = []  # (iteration, positions)

    def instance(self):
        return "learner-1"

    def train_iteration(self, iteration, *, positions, instance=None):
        self.trained.append((iteration, positions))
        self.version += 1
        return IterationMetrics(
            iteration=iteration, steps=1, skipped_steps=0, policy_loss=1.0, value_loss=1.0,
            total_loss=2.0, policy_accuracy=0.5, policy_entropy=1.0, value_error=0.1,
            grad_norm=1.0, lr=0.01, positions=positions, samples=positions,
        )  # fmt: skip

    def weights_bytes(self, *, instance=None):
        return f"w{self.version}".encode(), self.version

    def state(self, *, instance=None):
        return {"version": self.version, "learner": {"model": {}}}

    def load_state(self, state):
        self.version = int(state["version"])
        return self.version

    def rate(self):
        return 10.0


class FakeEvaluator:
    """Arenas won by the candidate with ``share`` of the deals; ``fail``: arenas raise."""

    def __init__(self, share: float = 1.0, *, fail: bool = False) -> None:
        self.share, self.fail = share, fail
        self.arenas: list[tuple[int, bytes, bytes]] = []  # (iteration, candidate, best)

    def arena(self, candidate, best, *, iteration):
        self.arenas.append((iteration, candidate, best))
        if self.fail:
            raise RuntimeError("arena failed")
        deals = 4
        wins = round(self.share * deals)
        side = SideStats(mean_score=5.0, ci95=1.0, exact_rate=0.5, mean_bid_error=1.0)
        return MatchResult(
            deals=deals, a=side, b=side, a_wins=wins, b_wins=deals - wins, ties=0,
            diff_mean=0.0, diff_ci95=1.0, per_deal_a=(6.0,) * wins + (4.0,) * (deals - wins),
            per_deal_b=(4.0,) * wins + (6.0,) * (deals - wins), seconds=0.1,
        )  # fmt: skip

    def gauntlet(self, weights, *, iteration):
        return GauntletResult(iteration=iteration, matches=(), seconds=0.1)


def inline(obj: Any) -> LocalHandle:
    return LocalHandle(obj, inline=True)
