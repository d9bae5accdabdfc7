"""The run, without Ray: the pieces the Coordinator actor composes.

* :class:`GameLedger`: which games are owed, handed out and in (pure, no threads);
* :class:`SelfPlayFleet`: the self-play actors, what each holds, and their health;
* :class:`TrainingPipeline`: the replay buffer fed, the learner driven, weights published;
* :class:`EvaluationSchedule` and :class:`Promotion`: arenas and gauntlets, the best network;
* :class:`RunHistory` and the typed records (:class:`EloEntry`, :class:`RunCheckpoint`,
  :class:`RunMetrics`); :mod:`~blobrl.run.report` for status, metrics and log lines;
* the control vocabulary (:data:`TRANSITIONS`, :class:`ControlResult`,
  :class:`CoordinatorStatus`, :class:`Journal`) and the actors' interfaces (:mod:`.ports`).

Actors are reached through :class:`blobrl.remote.Remote` handles, local or Ray alike, so every
piece runs in tests with plain objects.
"""

from blobrl.run import report
from blobrl.run.checkpoints import Checkpoints
from blobrl.run.control import TRANSITIONS, ControlResult, CoordinatorStatus, Journal
from blobrl.run.evaluations import (
    ARENA_ATTEMPTS,
    ArenaFailed,
    ArenaPlayed,
    EvaluationSchedule,
    GauntletPlayed,
    arenas_owed_at,
    summary,
)
from blobrl.run.fleet import SelfPlayFleet
from blobrl.run.history import RunHistory
from blobrl.run.ledger import GameLedger
from blobrl.run.pipeline import RestartWatch, Trained, TrainingPipeline
from blobrl.run.ports import (
    CoordinatorPort,
    EvaluatorPort,
    InferencePort,
    LearnerPort,
    ReplayPort,
    SelfPlayPort,
)
from blobrl.run.promotion import Promotion
from blobrl.run.records import EloEntry, RunCheckpoint, RunMetrics

__all__ = [
    "ARENA_ATTEMPTS",
    "TRANSITIONS",
    "ArenaFailed",
    "ArenaPlayed",
    "Checkpoints",
    "ControlResult",
    "CoordinatorPort",
    "CoordinatorStatus",
    "EloEntry",
    "EvaluationSchedule",
    "EvaluatorPort",
    "GameLedger",
    "GauntletPlayed",
    "InferencePort",
    "Journal",
    "LearnerPort",
    "Promotion",
    "ReplayPort",
    "RestartWatch",
    "RunCheckpoint",
    "RunHistory",
    "RunMetrics",
    "SelfPlayFleet",
    "SelfPlayPort",
    "Trained",
    "TrainingPipeline",
    "arenas_owed_at",
    "report",
    "summary",
]
