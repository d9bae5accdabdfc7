"""Coordinator: the iteration schedule, the game mix, progress, control and checkpoints.

One loop, polled a few dozen times a second, moves the run forward:

* keep every self-play actor's queue topped up with the next games (each game's (N, C) and deal
  seed come from the recorded mix seed, so a resumed run plays the same games);
* drain finished games: record each one durably (the game log), add it to the replay buffer,
  count it once (a game is identified by (iteration, index), so a replayed game is never
  counted twice);
* when an iteration's games are all in, train on it, publish the new weights, checkpoint, and
  start the arena, without waiting: self-play goes on with the weights it has, at most one
  iteration ahead of training, and each game records the weight version that played it.

Control follows one state machine (idle, running, pausing, paused, stopping, stopped); an
invalid transition returns a refusal with the reason, which the API turns into a 409.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from blobrl.actors.control import (
    IDLE,
    PAUSED,
    PAUSING,
    RUNNING,
    STOPPED,
    STOPPING,
    TRANSITIONS,
    ControlResult,
    CoordinatorStatus,
    Journal,
)
from blobrl.actors.disk import DiskWatch
from blobrl.actors.events import EventLog
from blobrl.actors.handles import Call, call, share
from blobrl.actors.learner import LearnerRestarted, LearnerService
from blobrl.config import Config
from blobrl.data import GameRecord
from blobrl.evaluation import MatchEdge, MatchResult, RatingLedger, checkpoint_player
from blobrl.evaluation.gauntlet import gauntlet_edges, ismcts_opponent
from blobrl.learner import IterationMetrics, TrainingDiverged, realized_ratio
from blobrl.selfplay import GameSpec
from blobrl.telemetry.names import finite_or_none
from blobrl.telemetry.tensorboard import TensorBoardLog

log = logging.getLogger(__name__)
ARENA_ATTEMPTS = 3  # an arena that fails this many times is given up (the best model stays)


def _summary(exc: BaseException) -> str:
    """The last line of an exception's text (a remote task's error ends with its cause)."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else ""


@dataclass
class _SelfPlayActor:
    """The Coordinator's view of one self-play actor."""

    handle: Any
    name: str
    # Games handed out and not yet back (waiting or in flight): what a lost actor loses.
    assigned: dict[tuple[int, int], GameSpec] = field(default_factory=dict)
    collecting: Call | None = None
    submitting: Call | None = None
    alive: bool = True


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
        self._actors = [_SelfPlayActor(h, f"selfplay-{i}") for i, h in enumerate(selfplay)]
        self.spawn_selfplay = spawn_selfplay
        self.target_actors = target_actors if target_actors is not None else len(self._actors)
        self.recoveries: dict[str, int] = {}
        self._retry: deque[GameSpec] = deque()  # games lost with an actor, played again first
        self._spawned = len(self._actors) - 1  # number of the last self-play actor started
        # Instance ids of restartable actors as last seen, and the question in flight to each.
        self._instances: dict[str, str] = {}
        self._probes: dict[str, Call] = {}
        self._learner_instance: str | None = None
        self._next_health = 0.0
        self.replay = replay
        self.learner = learner
        self.evaluator = evaluator
        self.inference = inference
        # A factory lets the journal open its files where the Coordinator runs.
        self.journal: Journal = (
            journal if hasattr(journal, "record_game") else journal()  # type: ignore[assignment]
        )
        self.on_event = on_event
        self.poll_s = poll_s
        self.sampler = config.game_mix_sampler()
        # ``--iterations N`` stops after N; the schedule and learning-rate curve stay the run's.
        self.last_iteration = min(stop_after or config.iterations, config.iterations)
        self._last_payload: dict[str, Any] | None = None
        self.resume = resume
        self.trained = 0  # last iteration whose training is done and checkpointed
        self.done: dict[int, set[int]] = {}  # game indices recorded, per iteration
        self.positions: dict[int, int] = {}  # positions of those games, per iteration
        self.elo_history: list[dict[str, Any]] = []
        self.loss_history: list[dict[str, Any]] = []
        self.gauntlet_history: list[dict[str, Any]] = []  # vs random and heuristic
        self._gauntlets: list[tuple[int, Call]] = []
        self.best_version = 0
        # Every arena and gauntlet match, and the ratings fitted to them (random = 0).
        self.rating = RatingLedger(players=self._rated_agents())
        self.best_weights: bytes | None = None
        self.games_played = 0
        self.state = IDLE if start_paused else RUNNING
        self.error: str | None = None
        self._lock = threading.RLock()
        self._dispatched: dict[int, int] = {}  # next game index to hand out, per iteration
        self._pause_checks: list[Call] = []
        self._training: tuple[int, Call] | None = None
        self._evaluating: tuple[int, bytes, Call] | None = None
        self._arena_failures: dict[int, int] = {}  # iteration -> failed attempts of its arena
        self._eval_waiting: tuple[int, bytes] | None = None
        # Arenas a stopped run still owed (iterations, oldest first): played before newer ones.
        self._resumed_arenas: deque[int] = deque()
        self._weights: bytes | None = None
        self._version = 0
        self._phase_index = -1
        self._buffer = 0
        self._lr = 0.0
        self._learner_rate: float | None = None
        self._rate: deque[tuple[float, int]] = deque(maxlen=600)
        self._finished = threading.Event()
        self._events = EventLog()
        self._last_metrics: dict[str, Any] = {}
        self._selfplay_stats: list[Any] = []
        self._stats_call: list[Call] = []
        # TensorBoard records (RUN_DIR/tb), and the run directory's disk (blobrl.actors.disk).
        self._tensorboard = tensorboard() if tensorboard is not None else TensorBoardLog()
        self.disk = DiskWatch.of(self.journal, config.checkpoint.min_free_disk_gb)
        self.notice: str | None = None  # why the run paused itself, for status()
        self._disk_paused = False

    @property
    def selfplay(self) -> list[Any]:
        """Handles of the self-play actors now in use."""
        return [a.handle for a in self._actors if a.alive]

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
                self._each_actor("pause")
            elif command in ("resume", "start"):
                self._each_actor("resume")
                self.notice, self._disk_paused = None, False
        log.info("%s: %s -> %s%s", command, before, self.state, f" ({reason})" if reason else "")
        extra = {"reason": reason} if reason else {}
        self._emit("state", {"state": self.state, "previous": before, **extra})
        return ControlResult(True, f"{command}: {before} -> {self.state}", self.state)

    def _each_actor(self, method: str) -> None:
        for actor in self.selfplay:
            call(actor, method)

    # ---- the loop ---------------------------------------------------------------------------
    def run(self) -> CoordinatorStatus:
        """Play the whole schedule (or until stopped); returns the final status."""
        log.info(
            "coordinator running: iterations %d..%d, %d self-play actors",
            self.trained + 1,
            self.last_iteration,
            len(self.selfplay),
        )
        telemetry = threading.Thread(target=self._telemetry_loop, name="telemetry", daemon=True)
        try:
            if self.resume:
                self._restore()
            self._publish_initial_weights()
            telemetry.start()
            if self.state == IDLE:
                self._each_actor("pause")
            while True:
                with self._lock:
                    state = self.state
                if state == STOPPING or self._complete():
                    break
                self._drain()
                if state == PAUSING and self._all_paused():
                    self._drain(final=True)  # games finished before the hold count now
                    with self._lock:
                        if self.state == PAUSING:
                            self.state = PAUSED
                            self._emit("state", {"state": PAUSED, "previous": PAUSING})
                if state == RUNNING:
                    self._top_up()
                self._check_health()
                self._advance_training()
                self._advance_evaluation()
                time.sleep(self.poll_s)
            self._shutdown()
        except Exception as exc:
            log.exception("coordinator failed")
            self.error = f"{type(exc).__name__}: {exc}"
            self._emit("error", {"message": self.error})
            self._shutdown()
            raise
        finally:
            self._finished.set()
        return self.status()

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
        if self.trained < self.last_iteration:
            return False
        # Wait for the last arena so the final Elo is in the history.
        return (
            self._evaluating is None
            and self._eval_waiting is None
            and not self._resumed_arenas
            and not self._gauntlets
        )

    def _shutdown(self) -> None:
        with self._lock:
            stopping = self.state != STOPPED
            self.state = STOPPING
        if stopping:
            self._emit("state", {"state": STOPPING})
        stops = [(a, call(a.handle, "stop")) for a in self._actors if a.alive]
        for actor, stop_call in stops:
            try:
                stop_call.result(timeout=10)
            except Exception as exc:
                log.warning("%s did not stop cleanly: %s", actor.name, exc)
        self._drain(final=True)
        self._save_histories()
        self.journal.record_event(self._progress_event("stopped"))
        self.journal.flush()
        self.journal.close()
        self._tensorboard.close()
        with self._lock:
            self.state = STOPPED
        self._emit("state", {"state": STOPPED})
        log.info("run stopped at iteration %d with %d games", self.iteration, self.games_played)

    def _restore(self) -> None:
        """Rebuild the replay buffer and counters from the game log and the learner from the
        latest checkpoint. Games logged after that checkpoint count: only games that were still
        in flight are played again. The arenas the stopped run owed are played first, each
        against the best of its time (:func:`arenas_owed_at`)."""

        def count(record: GameRecord) -> bool:
            with self._lock:
                seen = self.done.setdefault(record.iteration, set())
                if record.game_id in seen:
                    return False
                seen.add(record.game_id)
                self.games_played += 1
            self._count_positions(record)
            return True

        # The checkpoint's iteration first, and the games as the log is read: what the status
        # shows while a long log replays is where the run is, not iteration 1 with 0 games.
        latest = self.journal.latest_checkpoint()
        if latest is not None:
            with self._lock:
                self.trained = latest[0]
        self._fill_replay_from_log(keep=count)
        self.games_played = sum(len(ix) for ix in self.done.values())
        if latest is not None:
            iteration, payload = latest
            self._learner_instance = call(self.learner, "instance").result()
            self._version = call(self.learner, "load_state", payload["learner_state"]).result()
            self.trained = iteration
            self.elo_history = list(payload.get("elo_history", []))
            self.loss_history = list(payload.get("loss_history", []))
            self.gauntlet_history = list(payload.get("gauntlet_history", []))
            self.best_version = int(payload.get("best_version", 0))
            self.rating = RatingLedger.from_list(
                payload.get("rating_edges", []), players=self._rated_agents()
            )
            self._rate_history()
            if self.loss_history:
                self._lr = float(self.loss_history[-1].get("lr", 0.0))
            if payload.get("replay_rng") is not None:  # sampling goes on where it was
                call(self.replay, "set_rng_state", payload["replay_rng"]).result()
            if self.evaluator is not None:
                self._resumed_arenas = deque(arenas_owed_at(iteration, payload))
            # What _save_histories re-saves when arenas finish before the next checkpoint.
            self._last_payload = {
                "iteration": iteration,
                "learner_state": payload["learner_state"],
                "replay_rng": payload.get("replay_rng"),
                "evaluations": self._evaluations_done(),
                "arenas_owed": self._arenas_owed(),
            }
        self.best_weights = self.journal.best_weights()
        if self.best_weights is None and latest is not None:
            # Nothing promoted yet: the best is still the network of its iteration (0).
            self.best_weights = self._checkpoint_weights(self.best_version)
        log.info(
            "resumed: %d games logged, training done through iteration %d, %d positions, "
            "arenas owed: %s",
            self.games_played,
            self.trained,
            self._buffer,
            list(self._resumed_arenas) or "none",
        )

    # ---- self-play --------------------------------------------------------------------------
    @property
    def iteration(self) -> int:
        """The first iteration whose games are not all in."""
        it = self.trained + 1
        while it <= self.last_iteration and self._iteration_complete(it):
            it += 1
        return it

    def _iteration_complete(self, it: int) -> bool:
        return len(self.done.get(it, ())) >= self.config.phase_at(it).games_per_iteration

    def _next_specs(self, count: int) -> list[GameSpec]:
        """The next ``count`` games to hand out: the current iteration's first, then (while the
        learner works on it) the next one's if it is in the same phase, never further ahead."""
        specs: list[GameSpec] = []
        while self._retry and len(specs) < count:
            spec = self._retry.popleft()
            if spec.game_id not in self.done.get(spec.iteration, set()):
                specs.append(spec)
        limit = min(self.trained + 2, self.last_iteration)
        # Search settings follow the phase of the iteration now played, so never run ahead
        # into the next phase: every game is searched with its own phase's settings.
        current = self.config.phase_at(min(self.iteration, self.last_iteration))
        while limit > self.trained + 1 and self.config.phase_at(limit) != current:
            limit -= 1
        it = self.trained + 1
        while len(specs) < count and it <= limit:
            total = self.config.phase_at(it).games_per_iteration
            index = self._dispatched.get(it, 0)
            done = self.done.get(it, set())
            while len(specs) < count and index < total:
                if index not in done:
                    n, c = self.sampler.draw(it, index)
                    specs.append(GameSpec(n, c, self.sampler.deal_seed(it, index), index, it))
                index += 1
            self._dispatched[it] = index
            it += 1
        return specs

    def _top_up(self) -> None:
        """Keep each actor supplied: its games in flight plus as many again waiting. What an
        actor holds is counted from the Coordinator's own books (games handed out and not yet
        back), so late answers can never make it look busier than it is. Never waits on an
        actor: a slow or unscheduled one simply gets no more games until it answers."""
        in_flight = self.config.selfplay.games_per_actor(server=self.inference is not None)
        current = self.iteration
        if current <= self.last_iteration:
            self._set_phase(current)
        for actor in self._actors:
            if not actor.alive:
                continue
            pending = actor.submitting
            if pending is not None:
                if not pending.done():
                    continue
                actor.submitting = None
                try:
                    pending.result()
                except Exception as exc:
                    self._selfplay_failed(actor, exc)
                    continue
            held = len(actor.assigned)
            if held > in_flight + in_flight // 2:
                continue
            specs = self._next_specs(2 * in_flight - held)
            if specs:
                for spec in specs:
                    actor.assigned[(spec.iteration, spec.game_id)] = spec
                actor.submitting = call(actor.handle, "submit", specs)

    def _set_phase(self, iteration: int) -> None:
        phases = self.config.schedule.phases
        index = next(i for i, p in enumerate(phases) if p.first <= iteration <= p.last)
        if index == self._phase_index:
            return
        self._phase_index = index
        settings = self.config.search_at(iteration)
        for actor in self.selfplay:
            call(actor, "set_settings", settings)
        phase = phases[index]
        log.info(
            "phase %d from iteration %d: %d determinizations x %d simulations, %d games",
            index + 1,
            iteration,
            phase.determinizations,
            phase.simulations,
            phase.games_per_iteration,
        )
        self._emit(
            "phase",
            {
                "phase": index + 1,
                "first": phase.first,
                "last": phase.last,
                "determinizations": phase.determinizations,
                "simulations": phase.simulations,
                "games_per_iteration": phase.games_per_iteration,
            },
        )

    def _drain(self, *, final: bool = False) -> None:
        """Collect finished games from every actor; record, buffer and count each once."""
        records: list[GameRecord] = []
        for actor in self._actors:
            if not actor.alive:
                continue
            if actor.collecting is None:
                actor.collecting = call(actor.handle, "collect")
            if not (final or actor.collecting.done()):
                continue
            pending, actor.collecting = actor.collecting, None
            try:
                got = pending.result(timeout=5 if final else None)
            except Exception as exc:
                self._selfplay_failed(actor, exc)
                continue
            for record in got:
                actor.assigned.pop((record.iteration, record.game_id), None)
            records.extend(got)
        fresh = []
        for record in records:
            seen = self.done.setdefault(record.iteration, set())
            if record.game_id in seen:
                continue
            seen.add(record.game_id)
            self._count_positions(record)
            self.journal.record_game(record)
            fresh.append(record)
        if fresh:
            self.games_played += len(fresh)
            self._rate.append((time.monotonic(), self.games_played))
            self._add_to_replay(fresh)
            self._emit(
                "games",
                {"finished": len(fresh), "games_played": self.games_played},
            )

    def _count_positions(self, record: GameRecord) -> None:
        it = record.iteration
        self.positions[it] = self.positions.get(it, 0) + record.num_positions

    # ---- recovery ---------------------------------------------------------------------------
    def _recovered(self, what: str, message: str, *args: Any) -> None:
        self.recoveries[what] = self.recoveries.get(what, 0) + 1
        log.warning(message, *args)
        self._emit("recovery", {"actor": what, "count": self.recoveries[what]})

    def _selfplay_failed(self, actor: _SelfPlayActor, exc: BaseException) -> None:
        """An actor (or its node) is gone: play its unfinished games elsewhere."""
        if not actor.alive:
            return
        actor.alive = False
        lost = [
            s for s in actor.assigned.values() if s.game_id not in self.done.get(s.iteration, ())
        ]
        self._retry.extend(sorted(lost, key=lambda s: (s.iteration, s.game_id)))
        actor.assigned.clear()
        self._recovered(
            "selfplay",
            "%s failed (%s: %s); %d unfinished games will be played by other actors",
            actor.name,
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            len(lost),
        )
        try:
            import ray

            ray.kill(actor.handle, no_restart=True)
        except Exception:
            pass

    def _check_health(self) -> None:
        """Every few seconds: replace lost self-play actors (and add some when the cluster
        grows), and make sure restarted actors have what they need."""
        now = time.monotonic()
        if now < self._next_health:
            return
        self._next_health = now + 5.0
        self._actors = [a for a in self._actors if a.alive]
        self._grow()
        self._check_inference()
        self._check_replay()
        self._check_disk()

    def _grow(self) -> None:
        if self.spawn_selfplay is None or self.state not in (RUNNING, IDLE, PAUSING, PAUSED):
            return
        want = self.target_actors
        if self.config.selfplay.actors == "auto":
            want = len(self._actors) + _free_actor_slots(self.config.selfplay.cpus_per_actor)
        while len(self._actors) < want:
            self._spawned += 1
            index = self._spawned
            try:
                handle = self.spawn_selfplay(index)
            except Exception as exc:
                log.warning("could not start a self-play actor: %s", exc)
                return
            actor = _SelfPlayActor(handle, f"selfplay-{index}")
            self._actors.append(actor)
            if self._weights is not None:
                call(handle, "set_weights", share(self._weights, [handle]), self._version)
            if self._phase_index >= 0:
                call(handle, "set_settings", self.config.search_at(self.iteration))
            if self.state in (IDLE, PAUSING, PAUSED):
                call(handle, "pause")
            log.info("added %s (%d self-play actors)", actor.name, len(self._actors))
            self._emit("actors", {"actors": len(self._actors)})

    def _restarted(self, kind: str, handle: Any) -> bool:
        """Whether ``handle`` answers with another instance id than last time. Asked without
        waiting: one question is always in flight and read once answered (an actor that is
        restarting answers when it is back)."""
        probe = self._probes.get(kind)
        if probe is not None and not probe.done():
            return False
        self._probes[kind] = call(handle, "instance")
        if probe is None:
            return False
        try:
            instance = probe.result()
        except Exception as exc:
            log.warning("%s not answering: %s", kind, exc)
            return False
        known = self._instances.get(kind)
        self._instances[kind] = instance
        return known is not None and known != instance

    def _check_inference(self) -> None:
        """A restarted InferenceServer comes back without weights, holding its callers:
        publish the current weights to it again."""
        if self.inference is None or self._weights is None:
            return
        if not self._restarted("inference", self.inference):
            return
        call(self.inference, "set_weights", share(self._weights, [self.inference]), self._version)
        self._recovered(
            "inference",
            "inference server restarted; weights v%d published again",
            self._version,
        )

    def _add_to_replay(self, records: list[GameRecord]) -> None:
        try:
            self._buffer = call(self.replay, "add_games", records).result(timeout=60)
        except Exception as exc:
            # The restarted buffer is rebuilt from the game log, these games included (see
            # _check_replay, which notices the new instance).
            log.warning("replay buffer failed (%s); it will be rebuilt from the game log", exc)

    def _fill_replay_from_log(self, keep: Callable[[GameRecord], bool] | None = None) -> None:
        """Send every logged game (that ``keep`` accepts) to the replay buffer, in batches."""
        batch: list[GameRecord] = []

        def feed(record: GameRecord) -> None:
            if keep is not None and not keep(record):
                return
            batch.append(record)
            if len(batch) >= 256:
                self._buffer = call(self.replay, "add_games", list(batch)).result()
                batch.clear()

        self.journal.replay_games(feed)
        if batch:
            self._buffer = call(self.replay, "add_games", batch).result()

    def _check_replay(self) -> None:
        """A restarted replay buffer comes back empty: rebuild it from the game log."""
        if not self._restarted("replay", self.replay):
            return
        # Games added since the restart are in the log too: start from empty, so that each
        # logged game is in the buffer exactly once.
        self.journal.flush()
        call(self.replay, "clear").result(timeout=60)
        self._fill_replay_from_log()
        self._recovered(
            "replay",
            "replay buffer restarted; rebuilt from the game log (%d positions)",
            self._buffer,
        )

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

    def _all_paused(self) -> bool:
        """Whether every actor has reported that it holds its games (asked without waiting)."""
        if not self._pause_checks:
            self._pause_checks = [call(a, "status") for a in self.selfplay]
            return False
        if not all(c.done() for c in self._pause_checks):
            return False
        checks, self._pause_checks = self._pause_checks, []
        for check in checks:
            try:
                if not check.result().paused:
                    return False
            except Exception:
                continue  # a lost actor holds no games; the health check replaces it
        return True

    # ---- training, weights, evaluation ------------------------------------------------------
    def _publish_initial_weights(self) -> None:
        if self.inference is not None:
            # The server that gets these weights; a later, different one was restarted.
            self._instances["inference"] = call(self.inference, "instance").result()
        if self._learner_instance is None:  # (a resume asked when it loaded the checkpoint)
            self._learner_instance = call(self.learner, "instance").result()
        while True:
            try:
                weights, version = self._learner_call("weights_bytes").result()
                break
            except LearnerRestarted as exc:  # since it was asked, or since it loaded a resume's
                self._restore_learner("before the first publication", exc)
        self._publish(weights, version)
        if self.best_weights is None:
            self.best_weights = weights
            self.best_version = version
        if not self.resume:
            self._checkpoint(0, None)

    def _learner_call(self, method: str, *args: Any, **kwargs: Any) -> Call:
        """Call the learner whose training state is known (see :class:`LearnerRestarted`)."""
        return call(self.learner, method, *args, instance=self._learner_instance, **kwargs)

    def _publish(self, weights: bytes, version: int) -> None:
        self._weights, self._version = weights, version
        shared = share(weights, [*self.selfplay, self.inference or self.learner])
        for actor in self.selfplay:
            call(actor, "set_weights", shared, version)
        if self.inference is not None:
            call(self.inference, "set_weights", shared, version)

    def _advance_training(self) -> None:
        if self._training is not None:
            iteration, pending = self._training
            if not pending.done():
                return
            self._training = None
            try:
                metrics: IterationMetrics = pending.result()
                weights, version = self._learner_call("weights_bytes").result(timeout=300)
                state = self._learner_call("state").result(timeout=300)
            except TrainingDiverged:
                raise
            except Exception as exc:  # the learner (or the replay buffer it samples) was lost
                self._restore_learner(f"while training iteration {iteration}", exc)
                return
            self._publish(weights, version)
            self.trained = iteration
            self._lr = metrics.lr
            self._learner_rate = self._poll_learner_rate()
            self.loss_history.append({"iteration": iteration, **asdict(metrics)})
            self._checkpoint(iteration, metrics, state)
            self._emit("iteration", {"iteration": iteration, "metrics": asdict(metrics)})
            self._tensorboard.iteration(
                self.loss_history[-1], games_played=self.games_played,
                games_per_min=self.games_per_min(), buffer_positions=self._buffer,
                learner_steps_per_s=self._learner_rate,
            )  # fmt: skip
            self._start_evaluation(iteration, weights)
            self._start_gauntlet(iteration, weights)
            return
        nxt = self.trained + 1
        if nxt > self.last_iteration or not self._iteration_complete(nxt):
            return
        if self.state in (STOPPING, STOPPED):
            return
        positions = self.positions.get(nxt, 0)
        self._training = (nxt, self._learner_call("train_iteration", nxt, positions=positions))
        log.info("iteration %d: %d games in, training", nxt, len(self.done.get(nxt, ())))
        self._log_game_mix(nxt)

    def _poll_learner_rate(self) -> float | None:
        try:
            return float(call(self.learner, "rate").result(timeout=5))
        except Exception:
            return None

    def _restore_learner(self, when: str, exc: BaseException) -> None:
        """Training an iteration failed, or the learner was restarted (``when`` says when it was
        found): load the last checkpoint into the learner (a restarted one has fresh weights);
        an iteration not trained is trained again on the next pass."""
        self._learner_instance = call(self.learner, "instance").result(timeout=300)
        latest = self.journal.latest_checkpoint()
        if latest is not None:
            call(self.learner, "load_state", latest[1]["learner_state"]).result(timeout=300)
        self._recovered(
            "learner",
            "learner failed or restarted %s (%s); restored iteration %d and going on",
            when,
            type(exc).__name__,
            latest[0] if latest else 0,
        )

    def _log_game_mix(self, iteration: int) -> None:
        """The deals actually played in ``iteration`` against the configured mix."""
        counts: dict[tuple[int, int], int] = {}
        for index in self.done.get(iteration, ()):
            deal = self.sampler.draw(iteration, index)
            counts[deal] = counts.get(deal, 0) + 1
        total = sum(counts.values()) or 1
        parts = [
            f"{n}x{c} {100 * counts.get((n, c), 0) / total:.1f}% (target {100 * w:.1f}%)"
            for (n, c), w in zip(self.sampler.deals, self.sampler.probabilities, strict=True)
        ]
        log.info("iteration %d game mix: %s", iteration, ", ".join(parts))
        self._emit(
            "game_mix",
            {
                "iteration": iteration,
                "counts": {f"{n}x{c}": k for (n, c), k in sorted(counts.items())},
            },
        )

    def _start_evaluation(self, iteration: int, weights: bytes) -> None:
        if self.evaluator is None or self.best_weights is None:
            return
        if self._evaluating is not None or self._resumed_arenas:
            # One arena at a time; the newest candidate waits, older waiting ones are skipped
            # (the arenas a resume owes are not: they go first, see _start_next_arena).
            if self._eval_waiting is not None:
                log.info("arena for iteration %d skipped for a newer one", self._eval_waiting[0])
            self._eval_waiting = (iteration, weights)
            return
        self._play_arena(iteration, weights)

    def _play_arena(self, iteration: int, weights: bytes) -> None:
        pending = call(self.evaluator, "arena", weights, self.best_weights, iteration=iteration)
        self._evaluating = (iteration, weights, pending)

    def _start_next_arena(self) -> None:
        """Once no arena is running, start the next one: the oldest a stopped run owed (its
        candidate read back from its iteration checkpoint; one retention removed is skipped),
        else the one waiting. Started here, after the last arena's promotion is recorded, so
        that each candidate plays the best of its time."""
        while self._evaluating is None and self._resumed_arenas and self.best_weights is not None:
            iteration = self._resumed_arenas.popleft()
            weights = self._checkpoint_weights(iteration)
            if weights is None:
                log.warning("arena of iteration %d not played: its checkpoint is gone", iteration)
                continue
            log.info("arena of iteration %d, owed by the stopped run, playing it", iteration)
            self._play_arena(iteration, weights)
        if self._evaluating is None and self._eval_waiting is not None and not self._resumed_arenas:
            waiting, self._eval_waiting = self._eval_waiting, None
            self._start_evaluation(*waiting)

    def _checkpoint_weights(self, iteration: int) -> bytes | None:
        """The network weights of the checkpoint of ``iteration``; None if it is not there."""
        try:
            payload = self.journal.checkpoint(iteration)
        except Exception as exc:  # damaged: the run goes on without what it held
            log.warning("checkpoint of iteration %d unreadable: %s", iteration, exc)
            return None
        return None if payload is None else LearnerService.state_weights(payload["learner_state"])

    def _start_gauntlet(self, iteration: int, weights: bytes) -> None:
        every = self.config.evaluation.gauntlet_every
        if self.evaluator is None or not every:
            return
        if iteration % every == 0 or iteration == self.last_iteration:
            self._gauntlets.append(
                (iteration, call(self.evaluator, "gauntlet", weights, iteration=iteration))
            )

    def _advance_gauntlets(self) -> None:
        for entry in [g for g in self._gauntlets if g[1].done()]:
            self._gauntlets.remove(entry)
            iteration, pending = entry
            try:
                result = pending.result()
            except Exception as exc:
                log.warning("gauntlet of iteration %d failed: %s", iteration, exc)
                continue
            self.gauntlet_history.append(result)
            for match in result.get("matches", []):
                log.info(
                    "gauntlet iteration %d vs %s at %dx%d: %.2f vs %.2f per hand (%+.2f +- %.2f)",
                    iteration, match["opponent"], match["players"], match["cards"],
                    match["score"], match["opponent_score"], match["diff"],
                    match["diff_ci95"] or 0.0,
                )  # fmt: skip
            self._add_rating_edges(gauntlet_edges(result, checkpoint_player(iteration)))
            self._emit("gauntlet", result)
            rated = self.rating.get(checkpoint_player(iteration))
            self._tensorboard.gauntlet(result, elo=rated.elo, elo_ci95=rated.ci95)

    def _advance_evaluation(self) -> None:
        self._advance_gauntlets()
        self._start_next_arena()
        if self._evaluating is None:
            return
        iteration, weights, pending = self._evaluating
        if not pending.done():
            return
        self._evaluating = None
        try:
            result: MatchResult = pending.result()
        except Exception as exc:
            failures = self._arena_failures.get(iteration, 0) + 1
            self._arena_failures[iteration] = failures
            if failures >= ARENA_ATTEMPTS:
                log.error(
                    "arena of iteration %d failed %d times (%s: %s); not played, the best "
                    "model stays at iteration %d",
                    iteration, failures, type(exc).__name__, _summary(exc), self.best_version,
                )  # fmt: skip
                self._emit("recovery", {"actor": "evaluator", "arena_given_up": iteration})
                return
            self._recovered(
                "evaluator",
                "arena of iteration %d failed (%s: %s); playing it again (attempt %d of %d)",
                iteration, type(exc).__name__, _summary(exc), failures + 1, ARENA_ATTEMPTS,
            )  # fmt: skip
            self._play_arena(iteration, weights)
            self._start_gauntlet(iteration, weights)
            return
        promoted = result.a_share >= self.config.evaluation.promote_threshold
        edge = MatchEdge.from_scores(
            checkpoint_player(iteration),
            checkpoint_player(self.best_version),
            result.per_deal_a,
            result.per_deal_b,
            kind="arena",
            iteration=iteration,
        )
        self.elo_history.append(
            {
                "iteration": iteration,
                "elo": None,  # set by _rate_history
                "ci95": None,
                "share": result.a_share,
                "score_share": edge.share,
                "elo_diff": edge.elo,  # observed against the best, this arena alone
                "elo_diff_ci95": edge.ci95,
                "promoted": promoted,
                "candidate_score": result.a.mean_score,
                "best_score": result.b.mean_score,
                "best_version": self.best_version,
                "seconds": result.seconds,  # the arena's wall time, for the dashboard
            }
        )
        self._add_rating_edges([edge])
        entry = self.elo_history[-1]
        if promoted:
            self.best_weights, self.best_version = weights, iteration
            self.journal.save_best(iteration, weights, entry)
        log.info(
            "arena iteration %d: share %.3f, score share %.3f (%+.0f +- %.0f Elo against "
            "iteration %d), rating %s%s",
            iteration,
            result.a_share,
            edge.share,
            edge.elo,
            edge.ci95,
            entry["best_version"],
            "none yet" if entry["elo"] is None else f"{entry['elo']:.0f} +- {entry['ci95']:.0f}",
            " (promoted)" if promoted else "",
        )
        self._emit("evaluation", entry)
        self._tensorboard.arena(entry, rating=self.rating_view())

    # ---- ratings ----------------------------------------------------------------------------
    def _rated_agents(self) -> list[str]:
        """The fixed agents rated from the start (null until a gauntlet places them)."""
        sims = self.config.evaluation.gauntlet_ismcts
        return ["random", "heuristic", *(ismcts_opponent(n) for n in sims)]

    def _add_rating_edges(self, edges: list[MatchEdge]) -> None:
        """Record matches, refit the ratings and rate every arena entry again with them."""
        self.rating.add(edges)
        self._rate_history()

    def _rate_history(self) -> None:
        # New entries, not edited ones: what was emitted or saved keeps what it said then.
        rated = []
        for entry in self.elo_history:
            r = self.rating.get(checkpoint_player(int(entry["iteration"])))
            rated.append({**entry, "elo": r.elo, "ci95": r.ci95})
        self.elo_history = rated

    def rating_view(self) -> dict[str, Any]:
        """The best network's rating and the fixed agents' (random = 0), for the metrics."""
        best = self.rating.get(checkpoint_player(self.best_version))
        return {
            "best_elo": best.elo,
            "best_elo_ci95": best.ci95,
            "baselines": {
                r.player: {"elo": r.elo, "ci95": r.ci95} for r in self.rating.fixed_agents()
            },
        }

    def _checkpoint(
        self, iteration: int, metrics: IterationMetrics | None, state: Any | None = None
    ) -> None:
        if state is None:
            state = self._learner_call("state").result()
        replay_rng = self._replay_rng()
        self.journal.record_event(self._progress_event("iteration_done", iteration=iteration))
        self.journal.flush()
        self._last_payload = {
            "iteration": iteration,
            "learner_state": state,
            "replay_rng": replay_rng,
        }
        # The arena of this iteration starts right after (iteration 0 has none).
        owed = self._arenas_owed(*([iteration] if iteration else []))
        self.journal.save_checkpoint(iteration, self._payload(state, replay_rng, owed))

    def _replay_rng(self) -> dict | None:
        """The replay sampler's random state; between iterations nothing samples, so it is the
        one the next iteration starts from. None (not checkpointed) if the buffer is away."""
        try:
            return call(self.replay, "rng_state").result(timeout=60)
        except Exception as exc:
            log.warning("replay sampler state not checkpointed (%s)", type(exc).__name__)
            return None

    def _save_histories(self) -> None:
        """Re-save the last checkpoint when arena or gauntlet results came in after it, or the
        arenas still owed changed, so the histories and what a resume owes are complete on disk
        (the learner state is the one of that checkpoint, not a partly trained one)."""
        last = self._last_payload
        owed = self._arenas_owed()
        if last is None or (last.get("evaluations"), last.get("arenas_owed")) == (
            self._evaluations_done(),
            owed,
        ):
            return
        self.journal.save_checkpoint(
            last["iteration"], self._payload(last["learner_state"], last["replay_rng"], owed)
        )

    def _evaluations_done(self) -> int:
        return len(self.elo_history) + len(self.gauntlet_history)

    def _arenas_owed(self, *also: int) -> list[int]:
        """Iterations whose arena is due and not played yet (the one running, the one waiting,
        those a resume still owes, and ``also``), ascending."""
        if self.evaluator is None:
            return []
        owed = {*self._resumed_arenas, *also}
        owed.update(entry[0] for entry in (self._evaluating, self._eval_waiting) if entry)
        return sorted(owed)

    def _payload(
        self, state: Any, replay_rng: dict | None, arenas_owed: list[int]
    ) -> dict[str, Any]:
        if self._last_payload is not None:
            self._last_payload["evaluations"] = self._evaluations_done()
            self._last_payload["arenas_owed"] = arenas_owed
        return {
            "learner_state": state,
            "replay_rng": replay_rng,
            "arenas_owed": arenas_owed,
            "weights_version": self._version,
            "elo_history": list(self.elo_history),
            "loss_history": list(self.loss_history),
            "gauntlet_history": list(self.gauntlet_history),
            "best_version": self.best_version,
            "best_elo": self.rating.get(checkpoint_player(self.best_version)).elo,
            "rating_edges": self.rating.to_list(),
            "games_played": self.games_played,
            "config": self.config.to_dict(),
        }

    def _progress_event(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "iteration": self.iteration,
            "trained": self.trained,
            "games_played": self.games_played,
            "games_total": self.config.games_before(self.last_iteration + 1),
            "buffer_positions": self._buffer,
            "timestamp": time.time(),
            **extra,
        }

    # ---- reporting --------------------------------------------------------------------------
    def games_per_min(self) -> float:
        if len(self._rate) < 2:
            return 0.0
        (t0, g0), (t1, g1) = self._rate[0], self._rate[-1]
        return (g1 - g0) / (t1 - t0) * 60.0 if t1 > t0 else 0.0

    def status(self) -> CoordinatorStatus:
        with self._lock:
            it = min(self.iteration, self.last_iteration)
            phase = self.config.phase_at(it)
            total = self.config.games_before(self.last_iteration + 1)
            rate = self.games_per_min()
            left = total - self.games_played
            return CoordinatorStatus(
                state=self.state,
                iteration=self.iteration,
                iterations=self.last_iteration,
                games_played=self.games_played,
                games_total=total,
                progress=self.games_played / total if total else 1.0,
                iteration_games=len(self.done.get(it, ())),
                iteration_games_total=phase.games_per_iteration,
                games_per_min=rate,
                eta_s=left / rate * 60.0 if rate > 0 else None,
                phase=max(self._phase_index, 0) + 1,
                determinizations=phase.determinizations,
                simulations=phase.simulations,
                weights_version=self._version,
                trained_iterations=self.trained,
                buffer_positions=self._buffer,
                lr=self._lr,
                actors=len(self.selfplay),
                timestamp=time.time(),
                error=self.error,
                notice=self.notice,
            )

    def history(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "elo": list(self.elo_history),
            "loss": list(self.loss_history),
            "gauntlet": list(self.gauntlet_history),
        }

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

    def metrics(self) -> dict[str, Any]:
        """Training and throughput numbers for the API and dashboards (NaN-free, JSON-ready)."""
        last = self.loss_history[-1] if self.loss_history else {}
        elo_entry = self.elo_history[-1] if self.elo_history else {}
        with self._lock:
            sp = self._poll_selfplay_stats()
        evaluations = sum(x.evaluations for x in sp)
        inference = self._inference_stats()
        return {
            "iteration": self.trained,
            "policy_loss": finite_or_none(last.get("policy_loss")),
            "value_loss": finite_or_none(last.get("value_loss")),
            "total_loss": finite_or_none(last.get("total_loss")),
            "trick_loss": finite_or_none(last.get("trick_loss")),
            "policy_accuracy": finite_or_none(last.get("policy_accuracy")),
            "policy_entropy": finite_or_none(last.get("policy_entropy")),
            "value_calibration_error": finite_or_none(last.get("value_error")),
            "learning_rate": finite_or_none(last.get("lr")),
            "elo": finite_or_none(elo_entry.get("elo")),
            "elo_ci95": finite_or_none(elo_entry.get("ci95")),
            **self.rating_view(),
            "best_version": self.best_version,
            "games_played": self.games_played,
            "games_per_min": self.games_per_min(),
            "buffer_positions": self._buffer,
            "selfplay_evaluations": evaluations,
            "selfplay_eval_fraction": (sum(x.eval_fraction for x in sp) / len(sp) if sp else None),
            "inference_batch_size": inference.get("mean_batch_rows"),
            "inference_evals_per_s": inference.get("evals_per_s"),
            "inference_queue_wait_ms": inference.get("mean_queue_wait_ms"),
            "gpu_memory_bytes": inference.get("gpu_memory_bytes", 0),
            "learner_steps_per_s": self._learner_rate,
            **self._reuse(last),
            "actors": len(self.selfplay),
            "recoveries": dict(self.recoveries),
            "timestamp": time.time(),
        }

    def _reuse(self, last: dict[str, Any]) -> dict[str, Any]:
        """Data reuse, configured and realized: samples trained per position generated."""
        positions, samples = int(last.get("positions_total", 0)), int(last.get("samples_total", 0))
        return {
            "replay_ratio": self.config.learner.replay_ratio,
            "replay_ratio_last": realized_ratio(last.get("samples", 0), last.get("positions", 0)),
            "replay_ratio_run": realized_ratio(samples, positions),
            "positions_generated": positions,
            "samples_trained": samples,
        }

    def _poll_selfplay_stats(self) -> list[Any]:
        """The last answers of the actors' status calls (asked again without waiting)."""
        if self._stats_call and all(c.done() for c in self._stats_call):
            answers = []
            for c in self._stats_call:
                try:
                    answers.append(c.result())
                except Exception:
                    log.debug("self-play status failed", exc_info=True)
            self._selfplay_stats = answers
            self._stats_call = []
        if not self._stats_call:
            self._stats_call = [call(a, "status") for a in self.selfplay]
        return self._selfplay_stats

    def _inference_stats(self) -> dict[str, Any]:
        if self.inference is None:
            return {}
        try:
            stats = call(self.inference, "stats").result(timeout=2)
        except Exception:
            return {}
        return {
            k: finite_or_none(v) if isinstance(v, float) else v for k, v in asdict(stats).items()
        }

    def config_view(self) -> dict[str, Any]:
        """The resolved config and where the run is in its schedule."""
        it = min(self.iteration, self.last_iteration)
        phases = self.config.schedule.phases
        index = next(i for i, p in enumerate(phases) if p.first <= it <= p.last)
        phase = phases[index]
        search = self.config.search_at(it)
        return {
            "config": self.config.to_dict(),
            "phase": {
                "index": index + 1,
                "first": phase.first,
                "last": phase.last,
                "determinizations": phase.determinizations,
                "simulations": phase.simulations,
                "games_per_iteration": phase.games_per_iteration,
                "root": search.root,
            },
            "iteration": it,
            "learning_rate": self._lr,
        }


def arenas_owed_at(iteration: int, payload: dict[str, Any]) -> list[int]:
    """The iterations whose arena a run owed when it saved the checkpoint of ``iteration``:
    its ``arenas_owed``, or for a checkpoint from before that field, every iteration after the
    last one in its arena history, through ``iteration``. (Arenas are played in order, so
    those before the last one were played, or skipped for a newer candidate as a running run
    does; the best they would have faced is not known.)"""
    if "arenas_owed" in payload:
        return sorted(int(it) for it in payload["arenas_owed"])
    last = max((int(entry["iteration"]) for entry in payload.get("elo_history", [])), default=0)
    return list(range(last + 1, iteration + 1))


def _free_actor_slots(cpus_per_actor: float) -> int:
    """How many more self-play actors the cluster's free CPUs hold (0 without Ray)."""
    try:
        import ray

        if not ray.is_initialized():
            return 0
        return int(ray.available_resources().get("CPU", 0.0) // cpus_per_actor)
    except Exception:
        return 0
