"""What the evaluations decide: the best network so far, and the histories and ratings that
record why. Arena and gauntlet outcomes come from the
:class:`~blobrl.run.evaluations.EvaluationSchedule`; the rule is
:func:`blobrl.evaluation.promoted`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from blobrl.evaluation import checkpoint_player, promoted
from blobrl.run.evaluations import (
    ARENA_ATTEMPTS,
    ArenaFailed,
    ArenaPlayed,
    EvaluationSchedule,
    GauntletPlayed,
    summary,
)
from blobrl.run.history import RunHistory
from blobrl.run.report import arena_line, gauntlet_lines
from blobrl.telemetry.tensorboard import TensorBoardLog

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]


class Promotion:
    """The best network of the run and the evidence for it.

    ``journal.save_best`` makes each promotion durable; ``emit(kind, data)`` reports arena,
    gauntlet and recovery events; ``on_recovery(what, message, *args)`` counts a retried arena.
    """

    def __init__(
        self,
        schedule: EvaluationSchedule,
        history: RunHistory,
        *,
        threshold: float,
        journal: Any,
        emit: Emit,
        on_recovery: Callable[..., None],
        tensorboard: TensorBoardLog,
    ):
        self.schedule = schedule
        self.history = history
        self.threshold = threshold
        self.journal = journal
        self.emit = emit
        self.on_recovery = on_recovery
        self.tensorboard = tensorboard
        self.best_weights: bytes | None = None
        self.best_version = 0

    def crown(self, weights: bytes | None, version: int) -> None:
        """The best network before any promotion (a fresh run's first, a resume's best)."""
        self.best_weights, self.best_version = weights, version

    def candidate(self, iteration: int, weights: bytes) -> None:
        self.schedule.candidate(iteration, weights, self.best_weights)

    def rating_view(self) -> dict[str, Any]:
        """The best network's rating and the fixed agents' (random = 0), for the metrics."""
        return self.history.rating_view(self.best_version)

    @property
    def best_elo(self) -> float | None:
        return self.history.rating.get(checkpoint_player(self.best_version)).elo

    def advance(self) -> None:
        """Take in whatever the evaluator finished (never waits)."""
        for outcome in self.schedule.poll(self.best_weights):
            if isinstance(outcome, GauntletPlayed):
                self._gauntlet(outcome)
            elif isinstance(outcome, ArenaPlayed):
                self._arena(outcome)
            else:
                self._failed(outcome)

    def _arena(self, outcome: ArenaPlayed) -> None:
        iteration, result = outcome.iteration, outcome.result
        promote = promoted(result, self.threshold)
        entry = self.history.add_arena(
            iteration, result, best_version=self.best_version, promoted=promote
        ).to_dict()
        if promote:
            self.best_weights, self.best_version = outcome.weights, iteration
            self.journal.save_best(iteration, outcome.weights, entry)
        log.info(arena_line(entry))
        self.emit("evaluation", entry)
        self.tensorboard.arena(entry, rating=self.rating_view())

    def _gauntlet(self, outcome: GauntletPlayed) -> None:
        result = outcome.result.to_dict()  # as the history keeps it
        for line in gauntlet_lines(outcome.iteration, result):
            log.info(line)
        self.history.add_gauntlet(outcome.iteration, result)
        self.emit("gauntlet", result)
        rated = self.history.rating.get(checkpoint_player(outcome.iteration))
        self.tensorboard.gauntlet(result, elo=rated.elo, elo_ci95=rated.ci95)

    def _failed(self, outcome: ArenaFailed) -> None:
        what = f"{type(outcome.error).__name__}: {summary(outcome.error)}"
        if outcome.given_up:
            log.error(
                "arena of iteration %d failed %d times (%s); not played, the best model stays "
                "at iteration %d",
                outcome.iteration, outcome.attempt, what, self.best_version,
            )  # fmt: skip
            self.emit("recovery", {"actor": "evaluator", "arena_given_up": outcome.iteration})
            return
        self.on_recovery(
            "evaluator",
            "arena of iteration %d failed (%s); playing it again (attempt %d of %d)",
            outcome.iteration, what, outcome.attempt + 1, ARENA_ATTEMPTS,
        )  # fmt: skip
