"""The durable game log: every finished game, appended as it completes (docs/design.md, Never lose
progress).

File layout (``games.log`` in the run directory)::

    FILE_MAGIC (8 bytes)
    record*   where record = header (12 bytes) + payload (msgpack)
    header    = b"\\xb1\\x0b" | kind u8 | reserved u8 | length u32 | crc32 u32   (little endian)

``kind`` is 1 for a game, 2 for an event; ``crc32`` covers the first 8 header bytes and the
payload, so a damaged length or kind is caught too. Payloads are msgpack maps with a ``type`` key:

* ``game``: ``{"type": "game", "meta": {...ints}, "arrays": {name: {dtype, shape, bytes}}}``
  (:func:`record_to_msgpack`); ``meta`` comes first so a scan can read it without the arrays.
* events: small maps, ``{"type": "progress", ...}`` (:class:`Progress`),
  ``{"type": "iteration_done", ...}`` (:class:`IterationDone`), or any other ``type`` a caller
  logs with :meth:`GameLog.append_event`.

Durability: each append is one ``os.write`` on an ``O_APPEND`` descriptor, so once it returns the
record is in the OS and survives a ``kill -9`` of the process. A background thread fsyncs at most
every ``fsync_interval_s`` (group commit), so a machine crash loses at most that window; a crash
mid-write leaves a torn last record, which readers detect, drop with a warning and (on resume)
truncate. Damage before the last record is an error, never silently skipped.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack
import numpy as np

from blobrl.checkpoint import atomic

if TYPE_CHECKING:
    from blobrl.selfplay.records import GameRecord

log = logging.getLogger(__name__)

FILE_MAGIC = b"BLOBLOG\x01"  # last byte: log format version
RECORD_MAGIC = b"\xb1\x0b"
KIND_GAME = 1
KIND_EVENT = 2
_HEADER = struct.Struct("<2sBBII")  # magic, kind, reserved, payload length, crc32
HEADER_SIZE = _HEADER.size
MAX_PAYLOAD = 64 << 20  # a 8x13 hand is well under 100 KiB; larger means a damaged length

GAME = "game"
PROGRESS = "progress"
ITERATION_DONE = "iteration_done"

_META_FIELDS = (
    "seed",
    "num_players",
    "num_cards",
    "weight_version",
    "determinizations",
    "simulations",
    "iteration",
    "game_id",
)
_ARRAY_FIELDS = ("actions", "players", "feature_bits", "feature_cont", "legal", "policy", "scores")


class GameLogError(Exception):
    """The game log cannot be read or written (damage before the tail, wrong file, locked)."""


# ---------------------------------------------------------------------------------------------
# Entries


@dataclass(frozen=True)
class Progress:
    """Game-level progress, logged by the coordinator as games complete."""

    iteration: int
    games_completed: int  # in this iteration
    games_total: int  # this iteration's target
    buffer_size: int  # positions in the replay buffer
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"type": PROGRESS, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Progress:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class IterationDone:
    """Marks the end of an iteration's self-play: ``games`` were played for it."""

    iteration: int
    games: int
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"type": ITERATION_DONE, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IterationDone:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


Event = Progress | IterationDone | Mapping[str, Any]


def _array_to_plain(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.str, "shape": list(a.shape), "bytes": a.tobytes()}


def _array_from_plain(d: Mapping[str, Any]) -> np.ndarray:
    return np.frombuffer(d["bytes"], dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()


def record_to_msgpack(record: GameRecord) -> bytes:
    """The msgpack payload of a game entry (see the module docstring)."""
    meta = {name: int(getattr(record, name)) for name in _META_FIELDS}
    meta["positions"] = record.num_positions
    arrays = {name: _array_to_plain(getattr(record, name)) for name in _ARRAY_FIELDS}
    if record.tricks is not None:
        arrays["tricks"] = _array_to_plain(record.tricks)
    return msgpack.packb({"type": GAME, "meta": meta, "arrays": arrays}, use_bin_type=True)


def record_from_msgpack(payload: bytes | Mapping[str, Any]) -> GameRecord:
    """Inverse of :func:`record_to_msgpack`; takes the bytes or the already decoded map."""
    from blobrl.selfplay.records import GameRecord

    data = (
        msgpack.unpackb(payload, raw=False) if isinstance(payload, bytes | bytearray) else payload
    )
    if data.get("type") != GAME:
        raise ValueError(f"not a game entry (type {data.get('type')!r})")
    meta = data["meta"]
    fields: dict[str, Any] = {name: int(meta[name]) for name in _META_FIELDS}
    fields.update((name, _array_from_plain(data["arrays"][name])) for name in _ARRAY_FIELDS)
    if "tricks" in data["arrays"]:  # absent in logs written before trick-count targets
        fields["tricks"] = _array_from_plain(data["arrays"]["tricks"])
    return GameRecord(**fields)


def _event_to_dict(event: Event) -> dict[str, Any]:
    data = event.to_dict() if isinstance(event, Progress | IterationDone) else dict(event)
    kind = data.get("type")
    if not isinstance(kind, str) or not kind or kind == GAME:
        raise ValueError(f"an event needs a string 'type' other than {GAME!r}, got {kind!r}")
    return data


def _frame(kind: int, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"log entry of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    head = _HEADER.pack(RECORD_MAGIC, kind, 0, len(payload), 0)[:8]
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + struct.pack("<I", crc) + payload


@dataclass(frozen=True)
class LogEntry:
    """One decoded entry. For games read with ``meta_only``, ``data`` holds only type and meta."""

    offset: int  # byte offset of the record header in the file
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return self.data["type"]

    @property
    def is_game(self) -> bool:
        return self.data["type"] == GAME

    def record(self) -> GameRecord:
        if "arrays" not in self.data:
            raise ValueError("entry was read with meta_only; its arrays were not decoded")
        return record_from_msgpack(self.data)


# ---------------------------------------------------------------------------------------------
# Reading


class LogScanner:
    """Iterates a log file's good entries (see :func:`iter_log`); afterwards ``good_end`` is
    the end of the last good record, ``torn_at`` the offset of a dropped tail (or None) and
    ``file_size`` the size that was read."""

    def __init__(self, path: Path, *, meta_only: bool = False, stop_at_damage: bool = False):
        self.path = path
        self.meta_only = meta_only
        self.stop_at_damage = stop_at_damage
        self.good_end = 0
        self.torn_at: int | None = None
        self.problem: str | None = None  # why the record at ``torn_at`` was dropped
        self.file_size = 0

    def __iter__(self) -> Iterator[LogEntry]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 (closed by the with below)
        except FileNotFoundError:
            raise GameLogError(f"{self.path}: game log not found") from None
        with f:
            size = os.fstat(f.fileno()).st_size
            self.file_size = size
            if size == 0:
                return
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                yield from self._walk(buf, size)

    def _walk(self, buf: mmap.mmap, size: int) -> Iterator[LogEntry]:
        head = buf[: len(FILE_MAGIC)]
        if head != FILE_MAGIC:
            if size < len(FILE_MAGIC) and FILE_MAGIC.startswith(head):
                self._drop_tail(0, size, "file header cut short")
                return
            raise GameLogError(f"{self.path}: not a blobrl game log (bad file header)")
        pos = self.good_end = len(FILE_MAGIC)
        while pos < size:
            problem, end, data = self._read(buf, pos, size)
            if problem is not None:
                if not self.stop_at_damage and _valid_record_after(buf, pos + 1, size):
                    raise GameLogError(
                        f"{self.path}: corrupt record at byte {pos} ({problem}) with valid records "
                        "after it; the log is damaged before its end and was not read further "
                        f"(python -m blobrl.status {self.path.parent} --repair says what it "
                        "would drop and truncates the log to the records before the damage)"
                    )
                self._drop_tail(pos, size, problem)
                return
            assert data is not None
            yield LogEntry(pos, data)
            pos = self.good_end = end

    def _read(
        self, buf: mmap.mmap, pos: int, size: int
    ) -> tuple[str | None, int, dict[str, Any] | None]:
        reason = _check_record(buf, pos, size)
        if reason is not None:
            return reason, pos, None
        _, kind, _, length, _ = _HEADER.unpack_from(buf, pos)
        start, end = pos + HEADER_SIZE, pos + HEADER_SIZE + length
        try:
            data = _game_meta(buf, start, end) if kind == KIND_GAME and self.meta_only else None
            if data is None:
                data = msgpack.unpackb(buf[start:end], raw=False)
        except Exception as e:  # msgpack raises several unrelated types
            return f"undecodable payload: {type(e).__name__}", pos, None
        if not isinstance(data, dict) or (data.get("type") == GAME) != (kind == KIND_GAME):
            return "payload type does not match the record kind", pos, None
        return None, end, data

    def _drop_tail(self, pos: int, size: int, problem: str) -> None:
        self.torn_at = pos
        self.problem = problem
        log.warning(
            "%s: dropping a torn or corrupt last record at byte %d (%s; %d bytes)",
            self.path,
            pos,
            problem,
            size - pos,
        )


def _game_meta(buf: mmap.mmap, start: int, end: int) -> dict[str, Any] | None:
    """``type`` and ``meta`` of a game payload, decoding no arrays; None when they are not the
    first two keys within 4 KiB (then the caller decodes the whole payload)."""
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(buf[start : min(end, start + 4096)])
    try:
        if unpacker.read_map_header() < 2:
            return None
        data = {unpacker.unpack(): unpacker.unpack() for _ in range(2)}
    except msgpack.OutOfData:
        return None
    return data if set(data) == {"type", "meta"} else None


def _check_record(buf: mmap.mmap, pos: int, size: int) -> str | None:
    """Why the record at ``pos`` is not a whole, intact record, or None when it is."""
    if size - pos < HEADER_SIZE:
        return "short header"
    magic, kind, _, length, crc = _HEADER.unpack_from(buf, pos)
    if magic != RECORD_MAGIC:
        return "bad record magic"
    if kind not in (KIND_GAME, KIND_EVENT) or length > MAX_PAYLOAD:
        return "bad header"
    if pos + HEADER_SIZE + length > size:
        return "record extends past the end of the file"
    start = pos + HEADER_SIZE
    if zlib.crc32(buf[start : start + length], zlib.crc32(buf[pos : pos + 8])) != crc:
        return "checksum mismatch"
    return None


def _valid_record_after(buf: mmap.mmap, start: int, size: int) -> bool:
    """Whether an intact record begins anywhere at or after ``start``."""
    pos = buf.find(RECORD_MAGIC, start)
    while pos != -1:
        if _check_record(buf, pos, size) is None:
            return True
        pos = buf.find(RECORD_MAGIC, pos + 1)
    return False


def iter_log(path: str | os.PathLike[str], *, meta_only: bool = False) -> Iterator[LogEntry]:
    """Every good entry of the log at ``path`` in order, streaming (memory stays small).

    A torn or corrupt last record is dropped with a warning naming the file and byte offset;
    damage followed by intact records raises :class:`GameLogError`. With ``meta_only`` games
    carry only their ``meta`` (no arrays are decoded): a fast scan for counts.
    """
    yield from LogScanner(Path(path), meta_only=meta_only)


@dataclass
class LogContents:
    """What a log holds: its games (unless not kept), events and the last progress entry."""

    path: Path
    games: list[GameRecord]
    events: list[dict[str, Any]]  # every non-game entry, in order
    games_read: int = 0
    positions_read: int = 0
    last_progress: Progress | None = None
    good_bytes: int = 0  # end of the last good record
    dropped_bytes: int = 0  # a torn tail after good_bytes (0 when clean)

    @property
    def torn(self) -> bool:
        return self.dropped_bytes > 0


def read_log(
    path: str | os.PathLike[str],
    *,
    keep_games: bool = True,
    on_game: Callable[[GameRecord], None] | None = None,
) -> LogContents:
    """Replay the whole log. Games go to ``on_game`` as they are read (for a large log, feed the
    replay buffer this way with ``keep_games=False`` so memory stays bounded) and/or are kept in
    :attr:`LogContents.games`."""
    scan = LogScanner(Path(path))
    out = LogContents(path=Path(path), games=[], events=[])
    for entry in scan:
        if entry.is_game:
            out.games_read += 1
            out.positions_read += int(entry.data["meta"]["positions"])
            if keep_games or on_game is not None:
                record = entry.record()
                if keep_games:
                    out.games.append(record)
                if on_game is not None:
                    on_game(record)
        else:
            out.events.append(entry.data)
            if entry.type == PROGRESS:
                out.last_progress = Progress.from_dict(entry.data)
    out.good_bytes = scan.good_end
    out.dropped_bytes = scan.file_size - scan.good_end if scan.torn_at is not None else 0
    return out


@dataclass(frozen=True)
class LogDamage:
    """Where a log stops being readable and what cutting it there drops (:func:`find_damage`)."""

    path: Path
    offset: int  # byte offset of the first bad record: the log is cut here
    problem: str  # why that record is bad
    file_size: int
    kept_records: int  # good records before ``offset``
    kept_games: int
    last_kept_iteration: int | None  # the newest iteration of a kept game
    records_after: int  # intact records after the damage (dropped by a cut)
    games_after: int

    @property
    def dropped_bytes(self) -> int:
        return self.file_size - self.offset

    @property
    def torn_tail(self) -> bool:
        """Only a torn last record: what ``--resume`` drops by itself."""
        return self.records_after == 0


def find_damage(path: str | os.PathLike[str]) -> LogDamage | None:
    """The first bad record of the log at ``path`` (damage or a torn tail) and what the records
    on either side of it hold; None when every record is intact. Reads only."""
    path = Path(path)
    scan = LogScanner(path, meta_only=True, stop_at_damage=True)
    records = games = 0
    last: int | None = None
    for entry in scan:
        records += 1
        if entry.is_game:
            games += 1
            it = int(entry.data["meta"]["iteration"])
            last = it if last is None else max(last, it)
    if scan.torn_at is None:
        return None
    after = games_after = 0
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > scan.torn_at:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                after, games_after = _intact_records_after(buf, scan.torn_at + 1, size)
    return LogDamage(
        path=path,
        offset=scan.torn_at,
        problem=scan.problem or "damaged",
        file_size=scan.file_size,
        kept_records=records,
        kept_games=games,
        last_kept_iteration=last,
        records_after=after,
        games_after=games_after,
    )


def _intact_records_after(buf: mmap.mmap, start: int, size: int) -> tuple[int, int]:
    """(records, games) of the intact records that follow one another from ``start`` on."""
    records = games = 0
    pos = buf.find(RECORD_MAGIC, start)
    while pos != -1:
        if _check_record(buf, pos, size) is None:
            _, kind, _, length, _ = _HEADER.unpack_from(buf, pos)
            records += 1
            games += kind == KIND_GAME
            pos = buf.find(RECORD_MAGIC, pos + HEADER_SIZE + length)
        else:
            pos = buf.find(RECORD_MAGIC, pos + 1)
    return records, games


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


# ---------------------------------------------------------------------------------------------
# Writing


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
        """Read the log (see :func:`read_log`), drop a torn tail, and open it for appending.
        A missing log is created empty."""
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
        """Append a :class:`Progress`, :class:`IterationDone` or a map with a ``type`` key."""
        data = _event_to_dict(event)
        return self._append(KIND_EVENT, msgpack.packb(data, use_bin_type=True))

    def _append(self, kind: int, payload: bytes) -> int:
        frame = _frame(kind, payload)
        with self._lock:
            if self._closed:
                raise GameLogError(f"{self.path}: log is closed")
            self._raise_fsync_error()
            offset = self._size
            try:
                written = 0
                while written < len(frame):  # a regular file takes it in one call in practice
                    written += os.write(self._fd, frame[written:])
            except OSError:
                os.ftruncate(self._fd, offset)  # never leave a partial record behind
                raise
            self._size = offset + len(frame)
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
