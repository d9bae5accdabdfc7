"""Durable storage of a run: the game log, checkpoints, retention and the run directory.

Importing this package imports neither torch nor the game engine (numba), so that
``python -m blobrl.status`` stays light: checkpoints import torch when they are read or written,
and the game log imports :mod:`blobrl.data` when it decodes a game.
"""

from blobrl.checkpoint.gamelog import (
    GAME,
    ITERATION_DONE,
    PROGRESS,
    GameLog,
    GameLogError,
    IterationDone,
    LogContents,
    LogDamage,
    LogEntry,
    Progress,
    check_not_in_use,
    find_damage,
    iter_log,
    read_log,
    record_from_msgpack,
    record_to_msgpack,
    repair_log,
)
from blobrl.checkpoint.retention import iterations_to_keep
from blobrl.checkpoint.rundir import CONFIG, GAMES_LOG, RunDir, RunDirError, RunSummary
from blobrl.checkpoint.store import (
    FORMAT_VERSION,
    MIGRATIONS,
    Checkpoint,
    CheckpointError,
    CheckpointStore,
    load_weights,
)

__all__ = [
    "CONFIG",
    "FORMAT_VERSION",
    "GAME",
    "GAMES_LOG",
    "ITERATION_DONE",
    "MIGRATIONS",
    "PROGRESS",
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "GameLog",
    "GameLogError",
    "IterationDone",
    "LogContents",
    "LogDamage",
    "LogEntry",
    "Progress",
    "RunDir",
    "RunDirError",
    "RunSummary",
    "check_not_in_use",
    "find_damage",
    "iter_log",
    "iterations_to_keep",
    "load_weights",
    "read_log",
    "record_from_msgpack",
    "record_to_msgpack",
    "repair_log",
]
