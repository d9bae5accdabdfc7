"""Iteration checkpoints: what each one holds (:class:`~blobrl.run.records.RunCheckpoint`),
when it is written, and the re-save that keeps the last one complete.

A checkpoint is written when an iteration's training is done (iteration 0: the first weights).
Arenas and gauntlets finish later; at the end of a run the last checkpoint is written again,
with the learner state it had, when results came in or the arenas owed changed since, so the
histories and what a resume owes are complete on disk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from blobrl.checkpoint import IterationDone, Progress
from blobrl.config import Config
from blobrl.data import GameRecord
from blobrl.run.evaluations import EvaluationSchedule, arenas_owed_at
from blobrl.run.history import RunHistory
from blobrl.run.ledger import GameLedger
from blobrl.run.pipeline import TrainingPipeline
from blobrl.run.promotion import Promotion
from blobrl.run.records import RunCheckpoint

log = logging.getLogger(__name__)


class Checkpoints:
    """Writes the run's checkpoints through ``journal`` from the run's pieces, and puts a
    stopped run back together from them (:meth:`restore`). ``state_weights`` reads the network
    weights out of a checkpoint's learner state."""

    def __init__(
        self,
        journal: Any,
        config: Config,
        *,
        ledger: GameLedger,
        pipeline: TrainingPipeline,
        evaluations: EvaluationSchedule,
        history: RunHistory,
        promotion: Promotion,
        state_weights: Callable[[dict[str, Any]], bytes],
    ):
        self.journal, self.config = journal, config
        self.ledger, self.pipeline, self.evaluations = ledger, pipeline, evaluations
        self.history, self.promotion = history, promotion
        self.state_weights = state_weights
        self.last: tuple[int, RunCheckpoint] | None = None  # the last one written (or loaded)

    def restore(self, lock: threading.RLock) -> None:
        """Rebuild the replay buffer and the ledger from the game log and the learner, the
        histories and the best network from the latest checkpoint. Games logged after that
        checkpoint count: only games that were still in flight are played again. The arenas
        the stopped run owed are played first (:func:`~blobrl.run.arenas_owed_at`). ``lock``
        guards the ledger against status readers while the log replays."""

        def count(record: GameRecord) -> bool:
            with lock:
                return self.ledger.record(record)

        # The checkpoint's iteration first, and the games as the log is read: what the status
        # shows while a long log replays is where the run is, not iteration 1 with 0 games.
        latest = self.journal.latest_checkpoint()
        if latest is not None:
            with lock:
                self.ledger.trained = latest[0]
        self.pipeline.fill_from_log(keep=count)
        best, weights = 0, self.journal.best_weights()
        if latest is not None:
            iteration, payload = latest
            checkpoint = RunCheckpoint.from_dict(payload)
            self.pipeline.load(checkpoint)
            self.history.restore(checkpoint)
            self.evaluations.owe(arenas_owed_at(iteration, payload))
            self.last = (iteration, replace(checkpoint, arenas_owed=self.evaluations.owed()))
            best = checkpoint.best_version
            if weights is None:  # nothing promoted yet: the best is still iteration 0's
                weights = self.weights_of(best)
        self.promotion.crown(weights, best)
        log.info(
            "resumed: %d games logged, training done through iteration %d, %d positions, "
            "arenas owed: %s",
            self.ledger.games_played,
            self.ledger.trained,
            self.pipeline.buffer,
            self.evaluations.owed_on_resume or "none",
        )

    def weights_of(self, iteration: int) -> bytes | None:
        """The network weights of the checkpoint of ``iteration``; None if it is not there."""
        try:
            payload = self.journal.checkpoint(iteration)
        except Exception as exc:  # damaged: the run goes on without what it held
            log.warning("checkpoint of iteration %d unreadable: %s", iteration, exc)
            return None
        return None if payload is None else self.state_weights(payload["learner_state"])

    def stopped(self) -> None:
        """At the end of a run: the last checkpoint completed (:meth:`resave`) and where the
        run stopped in the game log, made durable."""
        self.resave()
        it = min(self.ledger.iteration, self.ledger.last_iteration)
        games_total = self.config.phase_at(it).games_per_iteration
        self.journal.record_event(
            Progress(it, self.ledger.games_in(it), games_total, self.pipeline.buffer)
        )
        self.journal.flush()

    def save(self, iteration: int, state: dict[str, Any] | None = None) -> None:
        """The checkpoint of ``iteration``, just trained (``state``: the learner's; asked for
        when None). Its arena starts right after, so it is owed (iteration 0 has none)."""
        self.journal.record_event(IterationDone(iteration, self.ledger.games_in(iteration)))
        self.journal.flush()
        owed = self.evaluations.owed(*([iteration] if iteration else []))
        state = self.pipeline.state() if state is None else state
        self._write(iteration, self.build(state, self.pipeline.replay_rng(), owed))

    def resave(self) -> None:
        """Write the last checkpoint again if results or the arenas owed changed since."""
        if self.last is None:
            return
        iteration, last = self.last
        owed = self.evaluations.owed()
        saved = len(last.elo_history) + len(last.gauntlet_history)
        if (saved, last.arenas_owed) != (self.history.evaluations, owed):
            self._write(iteration, self.build(last.learner_state, last.replay_rng, owed))

    def _write(self, iteration: int, checkpoint: RunCheckpoint) -> None:
        self.last = (iteration, checkpoint)
        self.journal.save_checkpoint(iteration, checkpoint.to_dict())

    def build(self, state: Any, replay_rng: dict | None, owed: list[int]) -> RunCheckpoint:
        history = self.history.to_dict()
        return RunCheckpoint(
            learner_state=state,
            replay_rng=replay_rng,
            arenas_owed=owed,
            weights_version=self.pipeline.version,
            elo_history=history["elo"],
            loss_history=history["loss"],
            gauntlet_history=history["gauntlet"],
            best_version=self.promotion.best_version,
            best_elo=self.promotion.best_elo,
            rating_edges=self.history.rating.to_list(),
            games_played=self.ledger.games_played,
            config=self.config.to_dict(),
        )
