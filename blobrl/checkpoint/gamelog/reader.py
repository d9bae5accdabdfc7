"""Reading the game log: streaming its entries, replaying it whole, and finding damage.

A torn last record (a crash mid-write) is dropped with a warning naming the file and byte offset;
damage followed by intact records is an error, never silently skipped (:func:`find_damage` says
where it is and what cutting the log there drops; :func:`~blobrl.checkpoint.gamelog.repair_log`
cuts it).
"""

from __future__ import annotations

import logging
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from blobrl.checkpoint.gamelog.format import (
    FILE_MAGIC,
    GAME,
    HEADER,
    HEADER_SIZE,
    KIND_GAME,
    PROGRESS,
    RECORD_MAGIC,
    GameLogError,
    Progress,
    check_record,
    record_from_msgpack,
)

if TYPE_CHECKING:
    from blobrl.data import GameRecord

log = logging.getLogger(__name__)


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
        reason = check_record(buf, pos, size)
        if reason is not None:
            return reason, pos, None
        _, kind, _, length, _ = HEADER.unpack_from(buf, pos)
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


def _valid_record_after(buf: mmap.mmap, start: int, size: int) -> bool:
    """Whether an intact record begins anywhere at or after ``start``."""
    pos = buf.find(RECORD_MAGIC, start)
    while pos != -1:
        if check_record(buf, pos, size) is None:
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
        if check_record(buf, pos, size) is None:
            _, kind, _, length, _ = HEADER.unpack_from(buf, pos)
            records += 1
            games += kind == KIND_GAME
            pos = buf.find(RECORD_MAGIC, pos + HEADER_SIZE + length)
        else:
            pos = buf.find(RECORD_MAGIC, pos + 1)
    return records, games
