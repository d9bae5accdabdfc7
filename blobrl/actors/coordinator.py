r"""Coordinator: the run's state machine, composed of the pieces in :mod:`blobrl.run`.

One loop, :meth:`Coordinator.step` a few dozen times a second, never waiting on an actor, moves
the run forward: it keeps every self-play actor supplied with the next games (the
:class:`~blobrl.run.GameLedger` says which, the :class:`~blobrl.run.SelfPlayFleet` hands them
out); records each finished game once, durably, and adds it to the replay buffer; when an
iteration's games are all in, trains on it, publishes the weights and checkpoints (the
:class:`~blobrl.run.TrainingPipeline`, :class:`~blobrl.run.Checkpoints`), and starts its arena
(:class:`~blobrl.run.Promotion`). Self-play goes on meanwhile with the weights it has, at most
one iteration ahead of training. Control follows :data:`~blobrl.run.TRANSITIONS` between the
:class:`~blobrl.data.RunState`\ s; an invalid transition is refused with the reason (a 409).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from blobrl.actors.disk import DiskWatch
from blobrl.actors.events import EventLog
from blobrl.actors.learner import LearnerService
from blobrl.config import Config
from blobrl.data import RunState
from blobrl.remote import free_cpus
from blobrl.run import (
    TRANSITIONS,
    Checkpoints,
    ControlResult,
    CoordinatorStatus,
    EvaluationSchedule,
    GameLedger,
    Journal,
    Promotion,
    RunHistory,
    SelfPlayFleet,
    TrainingPipeline,
    report,
)
from blobrl.telemetry.tensorboard import TensorBoardLog

log = logging.getLogger(__name__)
IDLE, RUNNING, PAUSING, PAUSED, STOPPING, STOPPED = RunState


class Coordinator:
    """Drives a run; a plain class (the Ray Coordinator actor is this behind ``ray.remote``)."""

    def __init__(
        self,
        config: Config,
        *,
        selfplay: list[Any],
        replay: Any,
        learner: Any,
        evaluator: Any | None,
        journal: Journal | Callable[[], Journal],
        inference: Any | None = None,
        resume: bool = False,
        start_paused: bool = False,
        stop_after: int | None = None,
        spawn_selfplay: Callable[[int], Any] | None = None,
        target_actors: int | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        tensorboard: Callable[[], TensorBoardLog] | None = None,
        poll_s: float = 0.02,
    ):
        self.config = config
        # A factory lets the journal open its files where the Coordinator runs.
        self.journal: Journal = (
            journal if hasattr(journal, "record_game") else journal()  # type: ignore[assignment]
        )
        # ``--iterations N`` stops after N; the schedule and learning-rate curve stay the run's.
        self.last_iteration = min(stop_after or config.iterations, config.iterations)
        self.ledger = GameLedger(config, last_iteration=self.last_iteration)
        self.fleet = SelfPlayFleet(selfplay, spawn=spawn_selfplay, on_lost=self._actor_lost)
        self.target_actors = target_actors if target_actors is not None else len(selfplay)
        self.pipeline = TrainingPipeline(
            learner=learner, replay=replay, inference=inference, fleet=self.fleet,
            journal=self.journal, on_recovery=self._recovered,
        )  # fmt: skip
        self.evaluations = EvaluationSchedule(
            evaluator, gauntlet_every=config.evaluation.gauntlet_every,
            last_iteration=self.last_iteration,
            weights_of=lambda iteration: self.checkpoints.weights_of(iteration),
        )  # fmt: skip
        self.histories = RunHistory(gauntlet_ismcts=config.evaluation.gauntlet_ismcts)
        # TensorBoard records (RUN_DIR/tb), and the run directory's disk (blobrl.actors.disk).
        self._tensorboard = tensorboard() if tensorboard is not None else TensorBoardLog()
        self.promotion = Promotion(
            self.evaluations, self.histories, threshold=config.evaluation.promote_threshold,
            journal=self.journal, emit=self._emit, on_recovery=self._recovered,
            tensorboard=self._tensorboard,
        )  # fmt: skip
        self.checkpoints = Checkpoints(
            self.journal, config, ledger=self.ledger, pipeline=self.pipeline,
            evaluations=self.evaluations, history=self.histories, promotion=self.promotion,
            state_weights=LearnerService.state_weights,
        )  # fmt: skip
        self.disk = DiskWatch.of(self.journal, config.checkpoint.min_free_disk_gb)
        self.inference = inference
        self.on_event = on_event
        self.poll_s = poll_s
        self.resume = resume
        self.recoveries: dict[str, int] = {}
        self.state: str = IDLE if start_paused else RUNNING
        self.error: str | None = None
        self.notice: str | None = None  # why the run paused itself, for status()
        self._disk_paused = False
        self._lock = threading.RLock()
        self._phase_index = -1
        self._next_health = 0.0
        self._rate: deque[tuple[float, int]] = deque(maxlen=600)
        self._finished = threading.Event()
        self._events = EventLog()

    # ---- what tests and the API read ---------------------------------------------------------
    @property
    def games_played(self) -> int:
        return self.ledger.games_played

    @property
    def trained(self) -> int:
        return self.ledger.trained

    @property
    def iteration(self) -> int:
        return self.ledger.iteration

    @property
    def best_version(self) -> int:
        return self.promotion.best_version

    # ---- control ----------------------------------------------------------------------------
    def control(self, command: str, *, reason: str | None = None) -> ControlResult:
        """Apply ``start``, ``pause``, ``resume`` or ``stop``; refuse invalid transitions, and
        ``start`` or ``resume`` while the disk is low. ``reason`` goes to the log and event."""
        with self._lock:
            allowed = TRANSITIONS.get(command)
            if allowed is None:
                return ControlResult(False, f"unknown command {command!r}", self.state)
            if self.state not in allowed:
                return ControlResult(False, f"cannot {command} while {self.state}", self.state)
            low = self.disk.low() if command in ("resume", "start") else None
            if low is not None:
                return ControlResult(False, f"cannot {command}: {low}", self.state)
            before, self.state = self.state, allowed[self.state]
            if command == "pause":
                self.fleet.pause()
            elif command in ("resume", "start"):
                self.fleet.resume()
                self.notice, self._disk_paused = None, False
        log.info("%s: %s -> %s%s", command, before, self.state, f" ({reason})" if reason else "")
        extra = {"reason": reason} if reason else {}
        self._emit("state", {"state": self.state, "previous": before, **extra})
        return ControlResult(True, f"{command}: {before} -> {self.state}", self.state)

    # ---- the loop ---------------------------------------------------------------------------
    def run(self) -> CoordinatorStatus:
        """Play the whole schedule (or until stopped); returns the final status."""
        log.info(
            "coordinator running: iterations %d..%d, %d self-play actors",
            self.trained + 1, self.last_iteration, len(self.fleet),
        )  # fmt: skip
        try:
            self.start()
            threading.Thread(target=self._telemetry_loop, name="telemetry", daemon=True).start()
            while self.step():
                time.sleep(self.poll_s)
            self.shutdown()
        except Exception as exc:
            log.exception("coordinator failed")
            self.error = f"{type(exc).__name__}: {exc}"
            self._emit("error", {"message": self.error})
            self.shutdown()
            raise
        finally:
            self._finished.set()
        return self.status()

    def start(self) -> None:
        """Before the first step: restore a resumed run, publish the first weights."""
        if self.resume:
            self.checkpoints.restore(self._lock)
        weights, version = self.pipeline.first_weights()
        if self.promotion.best_weights is None:
            self.promotion.crown(weights, version)
        if not self.resume:
            self.checkpoints.save(0)
        if self.state == IDLE:
            self.fleet.pause()

    def step(self) -> bool:
        """One pass of the loop, never waiting on an actor; False once the run should stop."""
        with self._lock:
            state = self.state
        if state == STOPPING or self._complete():
            return False
        self._drain()
        if state == PAUSING and self.fleet.all_paused():
            self._drain(final=True)  # games finished before the hold count now
            with self._lock:
                if self.state == PAUSING:
                    self.state = PAUSED
                    self._emit("state", {"state": PAUSED, "previous": PAUSING})
        if state == RUNNING:
            self._top_up()
        self._check_health()
        self._advance_training()
        self.promotion.advance()
        return True

    def _telemetry_loop(self) -> None:
        """Export metrics to Ray's Prometheus endpoint every few seconds, off the main loop
        (gathering them may wait on the InferenceServer)."""
        from blobrl.telemetry import Telemetry

        telemetry = Telemetry(self.config.name)
        while not self._finished.wait(1.0):
            if telemetry.due():
                telemetry.publish(self.metrics(), self.status())

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`run` has returned."""
        return self._finished.wait(timeout)

    def _complete(self) -> bool:
        # Wait for the last arena so the final Elo is in the history.
        return self.trained >= self.last_iteration and self.evaluations.idle

    def shutdown(self) -> None:
        """Stop the actors, take in their last games, and make the end of the run durable."""
        with self._lock:
            stopping = self.state != STOPPED
            self.state = STOPPING
        if stopping:
            self._emit("state", {"state": STOPPING})
        self.fleet.stop()
        self._drain(final=True)
        self.checkpoints.stopped()
        self.journal.close()
        self._tensorboard.close()
        with self._lock:
            self.state = STOPPED
        self._emit("state", {"state": STOPPED})
        log.info("run stopped at iteration %d with %d games", self.iteration, self.games_played)

    # ---- self-play --------------------------------------------------------------------------
    def _top_up(self) -> None:
        current = self.iteration
        if current <= self.last_iteration:
            self._set_phase(current)
        in_flight = self.config.selfplay.games_per_actor(server=self.inference is not None)
        self.fleet.top_up(self.ledger, in_flight)

    def _set_phase(self, iteration: int) -> None:
        index = self.config.schedule.index_at(iteration)
        if index == self._phase_index:
            return
        self._phase_index = index
        self.fleet.set_settings(self.config.search_at(iteration))
        phase = self.config.schedule.phases[index]
        log.info(
            "phase %d from iteration %d: %d determinizations x %d simulations, %d games",
            index + 1, iteration, phase.determinizations, phase.simulations,
            phase.games_per_iteration,
        )  # fmt: skip
        self._emit("phase", report.phase_view(phase, index))

    def _drain(self, *, final: bool = False) -> None:
        """Collect finished games from every actor; record, buffer and count each once."""
        fresh = []
        for record in self.fleet.collect(self.ledger, final=final):
            if self.ledger.record(record):
                self.journal.record_game(record)
                fresh.append(record)
        if fresh:
            self._rate.append((time.monotonic(), self.games_played))
            self.pipeline.add_games(fresh)
            self._emit("games", {"finished": len(fresh), "games_played": self.games_played})

    # ---- recovery ---------------------------------------------------------------------------
    def _recovered(self, what: str, message: str, *args: Any) -> None:
        self.recoveries[what] = self.recoveries.get(what, 0) + 1
        log.warning(message, *args)
        self._emit("recovery", {"actor": what, "count": self.recoveries[what]})

    def _actor_lost(self, name: str, exc: BaseException, games: int) -> None:
        self._recovered(
            "selfplay", "%s failed (%s: %s); %d unfinished games will be played by other actors",
            name, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "", games,
        )  # fmt: skip

    def _check_health(self) -> None:
        """Every few seconds: replace lost self-play actors (and add some when the cluster
        grows), make sure restarted actors have what they need, and watch the disk."""
        now = time.monotonic()
        if now < self._next_health:
            return
        self._next_health = now + 5.0
        if self.state in (RUNNING, IDLE, PAUSING, PAUSED):
            want = self.target_actors
            if self.config.selfplay.actors == "auto":
                want = len(self.fleet) + int(free_cpus() // self.config.selfplay.cpus_per_actor)
            if self.fleet.grow(want):
                self._emit("actors", {"actors": len(self.fleet)})
        self.pipeline.check_inference()
        self.pipeline.check_replay()
        self._check_disk()

    def _check_disk(self) -> None:
        """Pause the run while its disk is low; resume it once there is room again, if the
        disk was what paused it (blobrl.actors.disk)."""
        low = self.disk.low()
        if low is not None and self.state == RUNNING:
            log.warning("%s: pausing the run until there is room again", low)
            self.notice, self._disk_paused = f"paused: {low}", True
            self.control("pause", reason=self.notice)
        elif low is None and self._disk_paused:
            self.notice, self._disk_paused = None, False
            self.control("resume", reason="disk space is back")

    # ---- training and evaluation ------------------------------------------------------------
    def _advance_training(self) -> None:
        done = self.pipeline.poll()
        if done is not None:
            self.ledger.trained = done.iteration
            entry = self.histories.add_loss(done.iteration, done.metrics)
            self.checkpoints.save(done.iteration, done.state)
            self._emit("iteration", {"iteration": done.iteration, "metrics": asdict(done.metrics)})
            self._tensorboard.iteration(
                entry, games_played=self.games_played, games_per_min=self.games_per_min(),
                buffer_positions=self.pipeline.buffer,
                learner_steps_per_s=self.pipeline.learner_rate,
            )  # fmt: skip
            self.promotion.candidate(done.iteration, done.weights)
            return
        nxt = self.ledger.trainable()
        if self.pipeline.training is not None or nxt is None or self.state in (STOPPING, STOPPED):
            return
        self.pipeline.start(nxt, positions=self.ledger.positions.get(nxt, 0))
        log.info("iteration %d: %d games in, training", nxt, self.ledger.games_in(nxt))
        counts = self.ledger.mix(nxt)
        log.info("iteration %d game mix: %s", nxt, report.mix_line(counts, self.ledger.sampler))
        self._emit("game_mix", report.mix_event(nxt, counts))

    # ---- reporting --------------------------------------------------------------------------
    def games_per_min(self) -> float:
        return report.games_per_min(self._rate)

    def status(self) -> CoordinatorStatus:
        with self._lock:
            return report.status(
                self.ledger, state=self.state, games_per_min=self.games_per_min(),
                phase_index=self._phase_index, weights_version=self.pipeline.version,
                buffer_positions=self.pipeline.buffer, lr=self.histories.lr,
                actors=len(self.fleet), error=self.error, notice=self.notice,
            )  # fmt: skip

    def history(self) -> dict[str, list[dict[str, Any]]]:
        return self.histories.to_dict()

    def metrics(self) -> dict[str, Any]:
        """Training and throughput numbers for the API and dashboards (NaN-free, JSON-ready)."""
        with self._lock:
            stats = self.fleet.stats()
        history = self.histories.to_dict()
        return report.metrics(
            config=self.config, loss=(history["loss"] or [{}])[-1],
            arena=(history["elo"] or [{}])[-1], rating=self.promotion.rating_view(), selfplay=stats,
            inference=report.inference_stats(self.pipeline.inference), trained=self.trained,
            best_version=self.best_version, games_played=self.games_played,
            games_per_min=self.games_per_min(), buffer_positions=self.pipeline.buffer,
            learner_steps_per_s=self.pipeline.learner_rate, actors=len(self.fleet),
            recoveries=self.recoveries,
        ).to_dict()  # fmt: skip

    def config_view(self) -> dict[str, Any]:
        """The resolved config and where the run is in its schedule."""
        it = min(self.iteration, self.last_iteration)
        return report.config_view(self.config, it, self.histories.lr)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        """Record an event for :meth:`events_since` (the API's WebSocket) and listeners."""
        self._events.append(kind, data)
        if self.on_event is not None:
            try:
                self.on_event(kind, data)
            except Exception:
                log.warning("event listener failed", exc_info=True)

    def events_since(self, seq: int, timeout: float = 1.0) -> tuple[list[dict[str, Any]], int]:
        """See :meth:`EventLog.since`."""
        return self._events.since(seq, timeout)
