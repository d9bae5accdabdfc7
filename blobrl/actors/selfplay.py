"""SelfPlayService: a SelfPlayWorker running continuously in a background thread.

The Coordinator keeps its queue topped up (``submit``) and drains finished games (``collect``);
the worker never waits for either. Weights, search settings and pause take effect between two
decisions, so a pause holds every game in flight exactly where it is and resume continues it.
With several game groups (behind a remote evaluator) each group searches in a thread of its own
and this loop's thread plays their moves between their decisions.
The Ray SelfPlayActor is this class behind ``ray.remote`` (see :mod:`blobrl.actors.compose`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from blobrl.data import GameRecord
from blobrl.mcts import Evaluator, SearchSettings
from blobrl.selfplay import GameSpec, SelfPlayStatus, SelfPlayWorker, SpecSource

log = logging.getLogger(__name__)


class _Queue(SpecSource):
    def __init__(self) -> None:
        self._items: deque[GameSpec] = deque()
        self._ready = threading.Condition()
        self.closed = False

    def put(self, specs: list[GameSpec]) -> None:
        with self._ready:
            self._items.extend(specs)
            self._ready.notify_all()

    def take(self) -> GameSpec | None:
        with self._ready:
            return self._items.popleft() if self._items else None

    def exhausted(self) -> bool:
        return self.closed

    def wait(self, timeout: float) -> None:
        with self._ready:
            if not self._items and not self.closed:
                self._ready.wait(timeout)

    def __len__(self) -> int:
        return len(self._items)


class _SerialEvaluator:
    """A network inside the actor shared by several game groups: one call or weight swap at a
    time, so that no leaf batch is evaluated with half-loaded weights."""

    def __init__(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        return int(getattr(self._evaluator, "version", 0))

    @property
    def rollout_weights(self):
        return getattr(self._evaluator, "rollout_weights", None)

    def set_weights(self, state, version: int) -> None:
        with self._lock:
            self._evaluator.set_weights(state, version)  # type: ignore[attr-defined]

    def __call__(self, features):
        with self._lock:
            return self._evaluator(features)


class SelfPlayService:
    """Plays whatever games it is given, with whatever weights it was last given."""

    def __init__(
        self,
        name: str,
        *,
        evaluator_factory: Callable[[], Evaluator],
        settings: SearchSettings,
        games_in_flight: int,
        game_groups: int = 1,
        trump_mode: str = "rotation",
        scoring: str = "blob",
        torch_threads: int | None = 1,
    ):
        if torch_threads is not None:
            import torch

            torch.set_num_threads(torch_threads)
        self.name = name
        self._evaluator = evaluator_factory()
        if game_groups > 1 and hasattr(self._evaluator, "set_weights"):
            self._evaluator = _SerialEvaluator(self._evaluator)
        self._worker = SelfPlayWorker(
            self._evaluator,
            settings=settings,
            games_in_flight=games_in_flight,
            game_groups=game_groups,
            trump_mode=trump_mode,
            scoring=scoring,
        )
        self._queue = _Queue()
        self._finished: deque[GameRecord] = deque()
        self._lock = threading.Lock()
        self._pending_weights: tuple[object, int] | None = None
        self._pending_settings: SearchSettings | None = None
        self._paused = threading.Event()
        self._holding = threading.Event()  # the loop is held at a pause (no game can finish)
        self._stop = threading.Event()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._loop, name=f"{name}-loop", daemon=True)
        self._thread.start()
        log.info("%s started (%d groups of %d games in flight)", name, game_groups, games_in_flight)

    # ---- commands ---------------------------------------------------------------------------
    def submit(self, specs: list[GameSpec]) -> int:
        """Queue games; returns how many are queued (not yet started) afterwards."""
        self._queue.put(specs)
        return len(self._queue)

    def collect(self) -> list[GameRecord]:
        """Finished games since the last call, oldest first."""
        with self._lock:
            out = list(self._finished)
            self._finished.clear()
        return out

    def set_weights(self, weights, version: int) -> None:
        """Queue new weights (a state dict or its bytes); applied before the next decision.
        With a remote evaluator (the InferenceServer holds the network) only their learned
        rollout rule is taken, for the search's rollouts."""
        with self._lock:
            self._pending_weights = (weights, version)

    def set_settings(self, settings: SearchSettings) -> None:
        with self._lock:
            self._pending_settings = settings

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def stop(self, timeout: float = 5.0) -> None:
        """Abandon games in flight and end the loop."""
        self._stop.set()
        self._paused.clear()
        self._queue.closed = True
        self._thread.join(timeout)
        log.info("%s stopped", self.name)

    def status(self) -> SelfPlayStatus:
        stats = self._worker.stats
        return SelfPlayStatus(
            name=self.name,
            games=stats.games,
            positions=stats.positions,
            queued=len(self._queue),
            finished_waiting=len(self._finished),
            # Held, not merely asked to pause: from here on no game finishes until resume.
            paused=self._holding.is_set()
            or (self._paused.is_set() and not self._thread.is_alive()),
            weight_version=int(getattr(self._evaluator, "version", 0)),
            eval_fraction=stats.eval_fraction,
            evaluations=stats.evaluations,
            alive=self._thread.is_alive(),
            error=self._error,
            node_id=_node_id(),
        )

    def _held(self) -> bool:
        """Held, not merely asked to pause: from here on no game finishes until resume."""
        if not self._paused.is_set():
            return False
        return self._holding.is_set() or not self._thread.is_alive()

    # ---- the loop ---------------------------------------------------------------------------
    def _between_decisions(self) -> bool:
        """Apply pending weights/settings, hold while paused; True means stop."""
        with self._lock:
            weights, self._pending_weights = self._pending_weights, None
            settings, self._pending_settings = self._pending_settings, None
        if weights is not None:
            state: Any
            state, version = weights
            if isinstance(state, bytes | bytearray):
                from blobrl.nn import bytes_to_state_dict

                state = bytes_to_state_dict(bytes(state))
            if hasattr(self._evaluator, "set_weights"):
                self._evaluator.set_weights(state, version)
            elif "rollout_weights" in state:
                # The server holds the network; the search needs its rollout rule itself.
                remote: Any = self._evaluator
                remote.rollout_weights = state["rollout_weights"].numpy().astype(np.float64)
        if settings is not None:
            self._worker.set_settings(settings)
        while self._paused.is_set() and not self._stop.is_set():
            self._holding.set()
            time.sleep(0.02)
        self._holding.clear()
        return self._stop.is_set()

    def _loop(self) -> None:
        try:
            for record in self._worker.play_iter(self._queue, should_stop=self._between_decisions):
                with self._lock:
                    self._finished.append(record)
        except Exception as exc:  # reported through status(); the Coordinator decides
            log.exception("%s crashed", self.name)
            self._error = f"{type(exc).__name__}: {exc}"


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    except Exception:
        return None
