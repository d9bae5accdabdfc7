"""The bytes of the game log (``games.log`` in the run directory) and the entries it holds.

File layout::

    FILE_MAGIC (8 bytes)
    record*   where record = header (12 bytes) + payload (msgpack)
    header    = b"\\xb1\\x0b" | kind u8 | reserved u8 | length u32 | crc32 u32   (little endian)

``kind`` is 1 for a game, 2 for an event; ``crc32`` covers the first 8 header bytes and the
payload, so a damaged length or kind is caught too. Payloads are msgpack maps with a ``type`` key:

* ``game``: ``{"type": "game", "meta": {...ints}, "arrays": {name: {dtype, shape, bytes}}}``
  (:func:`record_to_msgpack`); ``meta`` comes first so a scan can read it without the arrays.
* events: small maps, ``{"type": "progress", ...}`` (:class:`Progress`),
  ``{"type": "iteration_done", ...}`` (:class:`IterationDone`), or any other ``type`` a caller
  logs with :meth:`~blobrl.checkpoint.gamelog.GameLog.append_event`.
"""

from __future__ import annotations

import mmap
import struct
import time
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import msgpack
import numpy as np

if TYPE_CHECKING:  # blobrl.data imports the game engine (numba): reading a log needs neither
    from blobrl.data import GameRecord

FILE_MAGIC = b"BLOBLOG\x01"  # last byte: log format version
RECORD_MAGIC = b"\xb1\x0b"
KIND_GAME = 1
KIND_EVENT = 2
HEADER = struct.Struct("<2sBBII")  # magic, kind, reserved, payload length, crc32
HEADER_SIZE = HEADER.size
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
    from blobrl.data import GameRecord  # here, so that scans and `blobrl.status` stay light

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


def event_to_dict(event: Event) -> dict[str, Any]:
    """The payload map of an event entry (ValueError for a map without a proper ``type``)."""
    data = event.to_dict() if isinstance(event, Progress | IterationDone) else dict(event)
    kind = data.get("type")
    if not isinstance(kind, str) or not kind or kind == GAME:
        raise ValueError(f"an event needs a string 'type' other than {GAME!r}, got {kind!r}")
    return data


def frame(kind: int, payload: bytes) -> bytes:
    """One whole record: the header (with its checksum) and ``payload``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"log entry of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    head = HEADER.pack(RECORD_MAGIC, kind, 0, len(payload), 0)[:8]
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + struct.pack("<I", crc) + payload


def check_record(buf: mmap.mmap, pos: int, size: int) -> str | None:
    """Why the record at ``pos`` of ``buf`` (``size`` bytes) is not a whole, intact record, or
    None when it is."""
    if size - pos < HEADER_SIZE:
        return "short header"
    magic, kind, _, length, crc = HEADER.unpack_from(buf, pos)
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
