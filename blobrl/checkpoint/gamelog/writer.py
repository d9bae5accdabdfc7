"""Writing the game log: durable appends by one writer at a time, and the deliberate cut of a log
damaged before its end.

Durability: each append is one ``os.write`` on an ``O_APPEND`` descriptor, so once it returns the
record is in the OS and survives a ``kill -9`` of the process. A background thread fsyncs at most
every ``fsync_interval_s`` (group commit), so a machine crash loses at most that window; a crash
mid-write leaves a torn last record, which readers detect, drop with a warning and (on resume)
truncate.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgpack

from blobrl.checkpoint import atomic
from blobrl.checkpoint.gamelog.format import (
    FILE_MAGIC,
    KIND_EVENT,
    KIND_GAME,
    Event,
    GameLogError,
    event_to_dict,
    frame,
    record_to_msgpack,
)
from blobrl.checkpoint.gamelog.reader import LogContents, LogScanner, read_log

if TYPE_CHECKING:
    from blobrl.data import GameRecord

log = logging.getLogger(__name__)


def repair_log(path: str | os.PathLike[str]) -> Path | None:
    """Cut a log damaged before its end at its first bad record, for a deliberate recovery.

    The bytes from the damage on are moved to ``<path>.damaged-<offset>`` (returned; None when
    the log was intact), so nothing is thrown away; the records before the damage are kept.
    """
    path = Path(path)
    scan = LogScanner(path, meta_only=True, stop_at_damage=True)
    for _ in scan:
        pass
    if scan.torn_at is None:
        return None
    aside = path.with_name(f"{path.name}.damaged-{scan.good_end}")
    with open(path, "r+b") as f:
        f.seek(scan.good_end)
        atomic.write_bytes_atomic(aside, f.read())
        f.truncate(scan.good_end)
        f.flush()
        os.fsync(f.fileno())
    return aside


def check_not_in_use(
    path: str | Path, *, wait_s: float = 0.0, on_wait: Callable[[], None] | None = None
) -> None:
    """Raise :class:`GameLogError` when another process holds the log at ``path`` open for
    writing (a run still going in that directory). Changes nothing; a missing log is fine.

    ``wait_s`` gives the holder that long to let go first (``on_wait`` is called once when the
    wait begins): a run killed a moment ago leaves Ray workers behind for a few seconds, and
    its Coordinator holds the log until they are gone.
    """
    deadline = time.monotonic() + wait_s
    waiting = False
    while _held_by_another(path):
        if time.monotonic() >= deadline:
            raise GameLogError(
                f"{path}: already open for writing by another process (a run is still using "
                "this directory)"
            )
        if not waiting and on_wait is not None:
            on_wait()
        waiting = True
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _held_by_another(path: str | Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class GameLog:
    """Appends games and events to ``path`` (created if missing).

    Opening an existing log verifies it and truncates a torn tail first (with a warning), so
    appends always follow the last good record; :meth:`open_for_resume` does the same and also
    returns what the log holds. One writer at a time: a second one fails with
    :class:`GameLogError` (an advisory lock, released by the OS even on ``kill -9``).
    ``fsync_interval_s`` 0 fsyncs every append.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync_interval_s: float = 1.0) -> None:
        self._init(Path(path), fsync_interval_s, verified_size=None)

    @classmethod
    def open_for_resume(
        cls,
        path: str | os.PathLike[str],
        *,
        fsync_interval_s: float = 1.0,
        keep_games: bool = True,
        on_game: Callable[[GameRecord], None] | None = None,
    ) -> tuple[GameLog, LogContents]:
        """Read the log (see :func:`~blobrl.checkpoint.gamelog.read_log`), drop a torn tail,
        and open it for appending. A missing log is created empty."""
        path = Path(path)
        if path.exists():
            contents = read_log(path, keep_games=keep_games, on_game=on_game)
        else:
            contents = LogContents(path=path, games=[], events=[])
        self = cls.__new__(cls)
        self._init(path, fsync_interval_s, verified_size=contents.good_bytes)
        return self, contents

    def _init(self, path: Path, fsync_interval_s: float, *, verified_size: int | None) -> None:
        if fsync_interval_s < 0:
            raise ValueError("fsync_interval_s must be >= 0")
        self.path = path
        self.fsync_interval_s = fsync_interval_s
        self._lock = threading.Lock()
        self._closed = False
        self._dirty = False
        self._fsync_error: OSError | None = None
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise GameLogError(f"{path}: already open for writing by another process") from None
        try:
            self._prepare(verified_size)
        except BaseException:
            os.close(self._fd)
            raise
        self._wake = threading.Event()
        self._syncer: threading.Thread | None = None
        if fsync_interval_s > 0:
            self._syncer = threading.Thread(
                target=self._sync_loop, name=f"gamelog-fsync:{path.name}", daemon=True
            )
            self._syncer.start()

    def _prepare(self, verified_size: int | None) -> None:
        size = os.fstat(self._fd).st_size
        if verified_size is None and size > 0:
            scan = LogScanner(self.path, meta_only=True)
            for _ in scan:
                pass
            verified_size = scan.good_end
        if verified_size is not None and size > verified_size:
            log.warning("%s: truncating to %d bytes before appending", self.path, verified_size)
            os.ftruncate(self._fd, verified_size)
            size = verified_size
        if size == 0:
            os.write(self._fd, FILE_MAGIC)
            os.fsync(self._fd)
            size = len(FILE_MAGIC)
        self._size = size

    @property
    def size(self) -> int:
        """Bytes in the file (all written records)."""
        return self._size

    def append_game(self, record: GameRecord) -> int:
        """Append one finished game; returns its byte offset. In the OS when this returns."""
        return self._append(KIND_GAME, record_to_msgpack(record))

    def append_event(self, event: Event) -> int:
        """Append a :class:`~blobrl.checkpoint.gamelog.Progress`,
        :class:`~blobrl.checkpoint.gamelog.IterationDone` or a map with a ``type`` key."""
        data = event_to_dict(event)
        return self._append(KIND_EVENT, msgpack.packb(data, use_bin_type=True))

    def _append(self, kind: int, payload: bytes) -> int:
        record = frame(kind, payload)
        with self._lock:
            if self._closed:
                raise GameLogError(f"{self.path}: log is closed")
            self._raise_fsync_error()
            offset = self._size
            try:
                written = 0
                while written < len(record):  # a regular file takes it in one call in practice
                    written += os.write(self._fd, record[written:])
            except OSError:
                os.ftruncate(self._fd, offset)  # never leave a partial record behind
                raise
            self._size = offset + len(record)
            self._dirty = True
            if self.fsync_interval_s == 0:
                self._sync()
        return offset

    def flush(self) -> None:
        """Make everything appended so far durable (fsync) now."""
        with self._lock:
            self._raise_fsync_error()
            if not self._closed:
                self._sync()

    def close(self) -> None:
        """fsync and close; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        if self._syncer is not None:
            self._syncer.join()
        try:
            self._sync()
        finally:
            os.close(self._fd)
        self._raise_fsync_error()

    def __enter__(self) -> GameLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sync(self) -> None:
        self._dirty = False
        try:
            os.fdatasync(self._fd)
        except OSError as e:
            self._fsync_error = e

    def _raise_fsync_error(self) -> None:
        if self._fsync_error is not None:
            error, self._fsync_error = self._fsync_error, None
            raise GameLogError(f"{self.path}: fsync failed: {error}") from error

    def _sync_loop(self) -> None:
        # Group commit: appends only write to the OS; this thread makes them durable together.
        # fsync runs outside the append lock so appends never wait for the disk.
        while not self._wake.wait(self.fsync_interval_s):
            if self._dirty:
                self._sync()
