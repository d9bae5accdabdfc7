"""The training pipeline: the replay buffer fed, the learner driven an iteration at a time, and
the weights it publishes sent to the self-play fleet and the InferenceServer.

Recovery lives here too, because it is about these three: a restarted replay buffer is rebuilt
from the game log, a restarted InferenceServer gets the weights again, and a learner that failed
or was restarted gets the last checkpoint loaded before it trains again (an iteration not
trained is trained again on the next pass).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blobrl.data import GameRecord
from blobrl.learner import IterationMetrics, LearnerRestarted, TrainingDiverged
from blobrl.remote import Call, Remote, share
from blobrl.run.fleet import SelfPlayFleet
from blobrl.run.ports import InferencePort, LearnerPort, ReplayPort
from blobrl.run.records import RunCheckpoint

log = logging.getLogger(__name__)

# ``on_recovery(what, message, *args)``: something was lost and put right (logged, counted).
RecoveryCallback = Callable[..., None]


@dataclass(frozen=True)
class Trained:
    """An iteration's training, done: its metrics, the new weights, the state to checkpoint."""

    iteration: int
    metrics: IterationMetrics
    weights: bytes
    version: int
    state: dict[str, Any]


class RestartWatch:
    """Notices restarted actors: each ``instance`` question is asked without waiting, one in
    flight per actor, and read once answered (a restarting actor answers when it is back)."""

    def __init__(self) -> None:
        self._instances: dict[str, str] = {}
        self._probes: dict[str, Call[str]] = {}

    def know(self, kind: str, instance: str) -> None:
        self._instances[kind] = instance

    def restarted(self, kind: str, ask: Callable[[], Call[str]]) -> bool:
        """Whether the actor ``kind`` answered with another instance id than last time."""
        probe = self._probes.get(kind)
        if probe is not None and not probe.done():
            return False
        self._probes[kind] = ask()
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


class TrainingPipeline:
    """Replay buffer, learner and weight publication for one run."""

    def __init__(
        self,
        *,
        learner: Any,
        replay: Any,
        inference: Any | None,
        fleet: SelfPlayFleet,
        journal: Any,
        on_recovery: RecoveryCallback,
    ):
        self.learner: Remote[LearnerPort] = Remote(learner)
        self.replay: Remote[ReplayPort] = Remote(replay)
        self.inference: Remote[InferencePort] | None = (
            Remote(inference) if inference is not None else None
        )
        self.fleet = fleet
        self.journal = journal
        self.on_recovery = on_recovery
        self.watch = RestartWatch()
        self.weights: bytes | None = None  # the weights published last
        self.version = 0
        self.buffer = 0  # positions in the replay buffer, as it last said
        self.learner_rate: float | None = None  # optimizer steps a second, last iteration
        self._learner_instance: str | None = None
        self._training: tuple[int, Call[IterationMetrics]] | None = None

    @property
    def training(self) -> int | None:
        """The iteration being trained, if any."""
        return self._training[0] if self._training is not None else None

    # ---- the learner ------------------------------------------------------------------------
    def load(self, checkpoint: RunCheckpoint) -> None:
        """Put a checkpoint's learner and replay sampler state back (a resume)."""
        self._learner_instance = self.learner.call(LearnerPort.instance).result()
        self.version = self.learner.call(LearnerPort.load_state, checkpoint.learner_state).result()
        if checkpoint.replay_rng is not None:  # sampling goes on where it was
            self.replay.call(ReplayPort.set_rng_state, checkpoint.replay_rng).result()

    def first_weights(self) -> tuple[bytes, int]:
        """Publish the learner's weights before any game (its version: 0, or a resume's)."""
        if self.inference is not None:
            # The server that gets these weights; a later, different one was restarted.
            self.watch.know("inference", self.inference.call(InferencePort.instance).result())
        if self._learner_instance is None:  # (a resume asked when it loaded the checkpoint)
            self._learner_instance = self.learner.call(LearnerPort.instance).result()
        while True:
            try:
                weights, version = self.learner.call(
                    LearnerPort.weights_bytes, instance=self._learner_instance
                ).result()
                break
            except LearnerRestarted as exc:  # since it was asked, or since it loaded a resume's
                self.restore_learner("before the first publication", exc)
        self.publish(weights, version)
        return weights, version

    def start(self, iteration: int, *, positions: int) -> None:
        """Train ``iteration``, whose games generated ``positions`` (never waits)."""
        pending = self.learner.call(
            LearnerPort.train_iteration,
            iteration,
            positions=positions,
            instance=self._learner_instance,
        )
        self._training = (iteration, pending)

    def poll(self) -> Trained | None:
        """The iteration whose training finished since the last poll, its weights published;
        None if none did (or it failed: the learner is restored and it is trained again)."""
        if self._training is None or not self._training[1].done():
            return None
        (iteration, pending), self._training = self._training, None
        try:
            metrics = pending.result()
            weights, version = self.learner.call(
                LearnerPort.weights_bytes, instance=self._learner_instance
            ).result(timeout=300)
            state = self.state(timeout=300)
        except TrainingDiverged:
            raise
        except Exception as exc:  # the learner (or the replay buffer it samples) was lost
            self.restore_learner(f"while training iteration {iteration}", exc)
            return None
        self.publish(weights, version)
        self.learner_rate = self._poll_rate()
        return Trained(iteration, metrics, weights, version, state)

    def state(self, timeout: float | None = None) -> dict[str, Any]:
        """The learner's training state, to checkpoint."""
        return self.learner.call(LearnerPort.state, instance=self._learner_instance).result(
            timeout=timeout
        )

    def _poll_rate(self) -> float | None:
        try:
            return float(self.learner.call(LearnerPort.rate).result(timeout=5))
        except Exception:
            return None

    def restore_learner(self, when: str, exc: BaseException) -> None:
        """Training an iteration failed, or the learner was restarted (``when`` says when it was
        found): load the last checkpoint into the learner (a restarted one has fresh weights)."""
        self._learner_instance = self.learner.call(LearnerPort.instance).result(timeout=300)
        latest = self.journal.latest_checkpoint()
        if latest is not None:
            self.learner.call(LearnerPort.load_state, latest[1]["learner_state"]).result(
                timeout=300
            )
        self.on_recovery(
            "learner",
            "learner failed or restarted %s (%s); restored iteration %d and going on",
            when,
            type(exc).__name__,
            latest[0] if latest else 0,
        )

    # ---- weights ----------------------------------------------------------------------------
    def publish(self, weights: bytes, version: int) -> None:
        """Send ``weights`` to every self-play actor and the InferenceServer."""
        self.weights, self.version = weights, version
        server = self.inference.handle if self.inference is not None else self.learner.handle
        shared = share(weights, [*self.fleet.handles, server])
        self.fleet.set_weights(weights, version, shared=shared)
        if self.inference is not None:
            self.inference.call(InferencePort.set_weights, shared, version)

    # ---- the replay buffer ------------------------------------------------------------------
    def add_games(self, records: list[GameRecord]) -> None:
        try:
            self.buffer = self.replay.call(ReplayPort.add_games, records).result(timeout=60)
        except Exception as exc:
            # The restarted buffer is rebuilt from the game log, these games included (see
            # check_replay, which notices the new instance).
            log.warning("replay buffer failed (%s); it will be rebuilt from the game log", exc)

    def fill_from_log(self, keep: Callable[[GameRecord], bool] | None = None) -> None:
        """Send every logged game (that ``keep`` accepts) to the replay buffer, in batches."""
        batch: list[GameRecord] = []

        def feed(record: GameRecord) -> None:
            if keep is not None and not keep(record):
                return
            batch.append(record)
            if len(batch) >= 256:
                self.buffer = self.replay.call(ReplayPort.add_games, list(batch)).result()
                batch.clear()

        self.journal.replay_games(feed)
        if batch:
            self.buffer = self.replay.call(ReplayPort.add_games, batch).result()

    def replay_rng(self) -> dict | None:
        """The replay sampler's random state; between iterations nothing samples, so it is the
        one the next iteration starts from. None (not checkpointed) if the buffer is away."""
        try:
            return self.replay.call(ReplayPort.rng_state).result(timeout=60)
        except Exception as exc:
            log.warning("replay sampler state not checkpointed (%s)", type(exc).__name__)
            return None

    # ---- health -----------------------------------------------------------------------------
    def check_replay(self) -> None:
        """A restarted replay buffer comes back empty: rebuild it from the game log."""
        if not self.watch.restarted("replay", lambda: self.replay.call(ReplayPort.instance)):
            return
        # Games added since the restart are in the log too: start from empty, so that each
        # logged game is in the buffer exactly once.
        self.journal.flush()
        self.replay.call(ReplayPort.clear).result(timeout=60)
        self.fill_from_log()
        self.on_recovery(
            "replay",
            "replay buffer restarted; rebuilt from the game log (%d positions)",
            self.buffer,
        )

    def check_inference(self) -> None:
        """A restarted InferenceServer comes back without weights, holding its callers:
        publish the current weights to it again."""
        server = self.inference
        if server is None or self.weights is None:
            return
        if not self.watch.restarted("inference", lambda: server.call(InferencePort.instance)):
            return
        server.call(InferencePort.set_weights, share(self.weights, [server]), self.version)
        self.on_recovery(
            "inference", "inference server restarted; weights v%d published again", self.version
        )
