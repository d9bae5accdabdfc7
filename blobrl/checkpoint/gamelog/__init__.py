"""The durable game log: every finished game, appended as it completes (docs/design.md, Never lose
progress).

:mod:`~blobrl.checkpoint.gamelog.format` is the file format (records, entries, events),
:mod:`~blobrl.checkpoint.gamelog.reader` reads a log and finds damage in it, and
:mod:`~blobrl.checkpoint.gamelog.writer` appends to it (:class:`GameLog`) and cuts a damaged one.
"""

from blobrl.checkpoint.gamelog.format import (
    FILE_MAGIC,
    GAME,
    HEADER_SIZE,
    ITERATION_DONE,
    PROGRESS,
    Event,
    GameLogError,
    IterationDone,
    Progress,
    record_from_msgpack,
    record_to_msgpack,
)
from blobrl.checkpoint.gamelog.reader import (
    LogContents,
    LogDamage,
    LogEntry,
    LogScanner,
    find_damage,
    iter_log,
    read_log,
)
from blobrl.checkpoint.gamelog.writer import GameLog, check_not_in_use, repair_log

__all__ = [
    "FILE_MAGIC",
    "GAME",
    "HEADER_SIZE",
    "ITERATION_DONE",
    "PROGRESS",
    "Event",
    "GameLog",
    "GameLogError",
    "IterationDone",
    "LogContents",
    "LogDamage",
    "LogEntry",
    "LogScanner",
    "Progress",
    "check_not_in_use",
    "find_damage",
    "iter_log",
    "read_log",
    "record_from_msgpack",
    "record_to_msgpack",
    "repair_log",
]
