"""A shared-memory channel from a search to an InferenceServer on the same machine.

A Ray call costs its caller about 0.8 ms of CPU (send and gather, measured on 2 cores), as much
as the search step of 128 games x 3 worlds it would serve, so a self-play actor behind a server
spends most of its core on Ray. When the server runs on the same machine (one GPU box, or
``inference.placement: per_node``), the leaf batches go through memory both processes map
instead, and a byte down a named pipe says which slot is ready: a few microseconds a request.

One channel is one client's: a file of ``slots`` slots (in ``/dev/shm`` where it has room, else
the temporary directory), each a request of at most ``rows`` packed rows and the room for its
answer, and two FIFOs beside it (requests, answers; one byte each: the slot). The client
(:class:`ChannelLink`, a :class:`~blobrl.inference.client.ServerLink`) makes the files and asks
the server, over the link it falls back on (Ray), to map them
(:meth:`ChannelServer.attach`); a server on another machine cannot see them and says no, and
the client keeps to the fallback. Each side watches that the other process is alive: a client
whose server died hears at once that its requests are lost (the client sends them again, and
the link attaches to the restarted server), and a server drops the channels of clients that died.

The client's reader thread takes in the answers as they come, so that a request's future is
done without anyone polling. A thread that keeps several requests going and takes in their
answers itself (the self-play worker's game groups: :meth:`ChannelLink.polling`, then
:meth:`ChannelLink.drain` between searches and :meth:`ChannelLink.wait`, which listens on the
answer FIFO) sends the reader to sleep meanwhile: woken for every answer, the reader cost that
thread some 12 us of CPU per decision (its wake-ups, and the GIL they take from the search) for
answers the thread took in anyway. A blocking call still has the reader read for it.

Nothing here imports Ray; the actors layer gives the fallback link and the attach call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import mmap
import os
import select
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, InvalidStateError, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blobrl.game import MAX_PLAYERS, NUM_ACTIONS
from blobrl.inference.client import NoAnswer, ServerLink
from blobrl.inference.codec import CONT_INDEX, WIRE_BIT_BYTES, Answer, ModelNotLoaded

log = logging.getLogger(__name__)

# Requests in flight per client: up to half lent to the groups' leaf rows (6 groups lend 6 at 128
# games a group, 18 at 512), the rest for copied requests. Pages of unused slots are never touched.
SLOTS = 40
SLOT_ROWS = 1024  # rows a slot holds; a larger request goes several slots, or the fallback
_CONT = int(CONT_INDEX.shape[0])
_HEADER = 64  # int64 rows, status, version, then an error message up to _MESSAGE bytes
_MESSAGE_AT = 24  # after the three int64s
_MESSAGE = _HEADER - _MESSAGE_AT
_OK, _NOT_LOADED, _FAILED = 0, 1, 2
_MAX_SLOTS = 255  # a slot is one byte on a FIFO
_RETRY_S = 30.0  # a client whose attach failed tries again after this long
_LISTEN_S = 0.002  # a thread listening on its channel looks at its futures this often
_WATCH_S = 0.5  # how often each side checks that the other process is alive
_SHM = Path("/dev/shm")
_SHM_ROOM = 1 << 30  # /dev/shm is used when it has this much free
AVAILABLE = hasattr(os, "mkfifo")  # named pipes: POSIX systems (not Windows)


def slot_bytes(rows: int) -> int:
    """Bytes of one slot of ``rows`` rows: header, request bits and floats, answer."""
    per_row = WIRE_BIT_BYTES + 4 * (_CONT + NUM_ACTIONS + MAX_PLAYERS)
    return -(-(_HEADER + rows * per_row) // 64) * 64


def _address(array: np.ndarray) -> int:
    """Where ``array``'s data starts in memory."""
    return int(array.__array_interface__["data"][0])


def channel_dir() -> Path:
    """Where channel files go: ``/dev/shm`` when it is there with room, else the temp dir."""
    with contextlib.suppress(OSError):
        if _SHM.is_dir() and shutil.disk_usage(_SHM).free >= _SHM_ROOM:
            return _SHM
    return Path(tempfile.gettempdir())


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(directory: Path) -> None:
    """Remove the channel files of clients that died (a killed actor cannot clean up)."""
    for path in directory.glob("blobrl-channel-*"):
        with contextlib.suppress(ValueError, IndexError, OSError):
            if not alive(int(path.name.split("-")[2])):
                path.unlink()


@dataclass(frozen=True)
class ChannelSpec:
    """What a server needs to map a client's channel (sent over the fallback link)."""

    path: str  # the slot file; the FIFOs are path + ".req" and path + ".ans"
    slots: int
    rows: int
    model: str | None
    client_pid: int


class _Slots:
    """numpy views of a channel file's slots (both sides map the same layout)."""

    def __init__(self, memory: mmap.mmap, slots: int, rows: int) -> None:
        size = slot_bytes(rows)
        self.header: list[np.ndarray] = []
        self.bits: list[np.ndarray] = []
        self.cont: list[np.ndarray] = []
        self.logits: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        for i in range(slots):
            at = i * size
            self.header.append(np.frombuffer(memory, np.int64, 3, at))
            at += _HEADER
            for views, dtype, width in (
                (self.bits, np.uint8, WIRE_BIT_BYTES),
                (self.cont, np.float32, _CONT),
                (self.logits, np.float32, NUM_ACTIONS),
                (self.values, np.float32, MAX_PLAYERS),
            ):
                views.append(np.frombuffer(memory, dtype, rows * width, at).reshape(rows, width))
                at += rows * width * np.dtype(dtype).itemsize
        self.memory = memory
        self.slot_size = size

    def message(self, slot: int) -> str:
        at = slot * self.slot_size + _MESSAGE_AT
        return bytes(self.memory[at : at + _MESSAGE]).rstrip(b"\0").decode(errors="replace")

    def set_message(self, slot: int, text: str) -> None:
        at = slot * self.slot_size + _MESSAGE_AT
        raw = text.encode()[:_MESSAGE].ljust(_MESSAGE, b"\0")
        self.memory[at : at + _MESSAGE] = raw


class _ClientChannel:
    """The client's end: the files, free slots, and a thread that reads the answers."""

    def __init__(self, directory: Path, slots: int, rows: int, model: str | None) -> None:
        _remove_stale(directory)
        self.path = directory / f"blobrl-channel-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.rows, self.model = rows, model
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "r+b") as f:
            f.truncate(slots * slot_bytes(rows))
            self._memory = mmap.mmap(f.fileno(), 0)
        self.views = _Slots(self._memory, slots, rows)
        for end in (".req", ".ans"):
            os.mkfifo(f"{self.path}{end}", 0o600)
        # Both FIFOs opened read-write: opening never blocks, whoever starts first.
        self._req = os.open(f"{self.path}.req", os.O_RDWR)
        self._ans = os.open(f"{self.path}.ans", os.O_RDWR)
        os.set_blocking(self._ans, False)  # read by the reader thread and by drain()
        self._lock = threading.Lock()
        self._free = list(range(slots))
        # Slots lent to a caller for good (lease()): it writes its requests there itself.
        self._leased: set[int] = set()
        self._leased_idle: set[int] = set()  # of those, the ones with no request out
        self._lease_at: dict[int, int] = {}  # address of a leased slot's request bits -> slot
        self._cont_at = [_address(cont) for cont in self.views.cont]  # of each slot's floats
        self._done = [threading.Event() for _ in range(slots)]
        self._futures: list[Future[None]] = [Future() for _ in range(slots)]
        self._answered = [False] * slots
        self._abandoned: set[int] = set()
        self._reading = False
        self._wake_r, self._wake_w = os.pipe()  # tells the reader to look again (select)
        self._polled = 0  # threads that take in their answers themselves (polling())
        self._blocked = 0  # threads waiting for an answer (blocking()): the reader reads for them
        self.broken = False
        self.spec = ChannelSpec(str(self.path), slots, rows, model, os.getpid())

    @property
    def free_slots(self) -> int:
        """Slots holding no request: free, or lent and idle."""
        return len(self._free) + len(self._leased_idle)

    def lease(self, rows: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Lend a slot to the caller for as long as it keeps the arrays returned, its request
        area as ``(bits[rows, WIRE_BIT_BYTES], cont[rows, CONT])``: a request written there is
        sent without a copy (:meth:`submit` knows the arrays). None when the rows do not fit
        a slot, or half the slots are lent already (the rest stay for copied requests)."""
        with self._lock:
            full = 2 * (len(self._leased) + 1) > len(self._done)
            if self.broken or rows > self.rows or full or not self._free:
                return None
            slot = self._free.pop()
            self._leased.add(slot)
            self._leased_idle.add(slot)
            bits, cont = self.views.bits[slot][:rows], self.views.cont[slot][:rows]
            self._lease_at[_address(bits)] = slot
        # Not at exit: the process and its mapping are going anyway.
        weakref.finalize(bits, self._unlease, slot).atexit = False
        return bits, cont

    def _unlease(self, slot: int) -> None:
        """The caller let go of a leased slot's arrays: the slot is an ordinary one again."""
        with self._lock:
            self._leased.discard(slot)
            self._lease_at = {at: s for at, s in self._lease_at.items() if s != slot}
            if slot in self._leased_idle:
                self._leased_idle.discard(slot)
                self._free.append(slot)

    def _return(self, slot: int) -> None:
        """``slot`` holds no request any more (under the lock)."""
        if slot in self._leased:
            self._leased_idle.add(slot)
        elif slot not in self._free:
            self._free.append(slot)

    def start(self, server_pid: int) -> None:
        self._reading = True
        threading.Thread(
            target=self._read_answers, args=(server_pid,), name="inference-channel", daemon=True
        ).start()

    def _read_answers(self, server_pid: int) -> None:
        try:
            self._watch(server_pid)
        finally:  # this thread owns its fds once started: nobody closes them under select
            for fd in (self._ans, self._wake_r, self._wake_w):
                os.close(fd)

    def _watch(self, server_pid: int) -> None:
        watched = time.monotonic()
        while not self.broken:
            # Answers are read here unless a caller takes its own (polling) and none waits.
            listen = [self._wake_r]
            if not self._polled or self._blocked:
                listen.append(self._ans)
            ready, _, _ = select.select(listen, [], [], _WATCH_S)
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
            if self._ans in ready:
                with contextlib.suppress(BlockingIOError):  # drain() took them first
                    self._take(os.read(self._ans, 256))
            if time.monotonic() - watched >= _WATCH_S:
                watched = time.monotonic()
                if not alive(server_pid):
                    log.warning("the inference server's process is gone; its requests are lost")
                    self.close()

    def listen(self, timeout_s: float) -> None:
        """Until an answer may have come (or ``timeout_s``); :meth:`drain` takes it in."""
        with self._lock:
            if self.broken:
                return
            fd = self._ans
        with contextlib.suppress(OSError, ValueError):  # closed meanwhile: broken
            select.select([fd], [], [], timeout_s)

    def drain(self) -> None:
        """Take in the answers that have come, in the calling thread, without waiting: a
        caller that polls its requests hears of an answer without a handoff from the reader
        thread (which, while the caller computes, waits for the GIL)."""
        with self._lock:  # the reader closes the FIFO only once ``broken``, set under the lock
            if self.broken:
                return
            try:
                data = os.read(self._ans, 256)
            except BlockingIOError:
                return
        self._take(data)

    def _poke(self) -> None:
        """Wake the reader, to look again at what it should listen to."""
        with self._lock, contextlib.suppress(OSError):  # closed: the reader is gone
            if not self.broken:
                os.write(self._wake_w, b"\0")

    @contextlib.contextmanager
    def polling(self) -> Iterator[None]:
        """While in it, the calling thread takes in the answers itself (:meth:`listen`,
        :meth:`drain`), and the reader reads none unless a blocking call waits."""
        with self._lock:
            self._polled += 1
        self._poke()  # stop listening
        try:
            yield
        finally:
            with self._lock:
                self._polled -= 1
            self._poke()  # listen again

    @contextlib.contextmanager
    def blocking(self) -> Iterator[None]:
        """Around a blocking wait for an answer: the reader takes the answers in meanwhile."""
        with self._lock:
            self._blocked += 1
        self._poke()
        try:
            yield
        finally:
            with self._lock:
                self._blocked -= 1

    def _take(self, data: bytes) -> None:
        """The slots named in ``data`` (bytes read off the answer FIFO) have their answers."""
        for slot in data:
            with self._lock:
                if slot in self._abandoned:  # its caller gave up on it
                    self._abandoned.discard(slot)
                    self._return(slot)
                    continue
                # Under the lock: a later request in this slot never hears of it.
                self._answered[slot] = True
                self._done[slot].set()
                with contextlib.suppress(InvalidStateError):  # set by close() already
                    self._futures[slot].set_result(None)

    def submit(self, bits: np.ndarray, cont: np.ndarray) -> int | None:
        """Send a request: in place when it lies in an idle leased slot, else copied into a
        free slot; None when no slot is free."""
        leased = self._lease_at.get(_address(bits))
        if leased is not None and _address(cont) == self._cont_at[leased]:
            with self._lock:  # close() closes the request FIFO under the lock
                if self.broken:
                    return None
                if leased in self._leased_idle:
                    self._leased_idle.discard(leased)
                    self._answered[leased] = False
                    self._done[leased].clear()
                    self._futures[leased] = Future()
                    self.views.header[leased][0] = bits.shape[0]
                    os.write(self._req, bytes((leased,)))
                    return leased
            # Its slot still waits for a late answer (a request sent again): copy it.
        with self._lock:
            if self.broken or not self._free:
                return None
            slot = self._free.pop()
            self._answered[slot] = False
            self._done[slot].clear()
            self._futures[slot] = Future()
        rows = bits.shape[0]
        v = self.views
        v.bits[slot][:rows] = bits
        v.cont[slot][:rows] = cont
        v.header[slot][0] = rows
        with self._lock:  # close() closes the request FIFO under the lock
            if self.broken:
                return None
            os.write(self._req, bytes((slot,)))
        return slot

    def future(self, slot: int) -> Future[None]:
        """Done once ``slot``'s answer is in, or the channel broke (its request lost)."""
        return self._futures[slot]

    def result(self, slot: int, timeout_s: float, *, copy: bool = True) -> Answer:
        """The answer in ``slot``, or :class:`NoAnswer`. The slot is free again after, unless
        ``copy`` is False: then the answer is a view of the slot, valid until the caller
        :meth:`release` s it."""
        done = self._done[slot]
        if not done.is_set():
            with self.blocking():
                done.wait(max(timeout_s, 0.0))
        if not done.is_set() or not self._answered[slot]:
            raise NoAnswer(f"no answer on the shared-memory channel in {timeout_s:.1f} s")
        v = self.views
        rows, status, version = (int(x) for x in v.header[slot])
        if status == _OK and not copy:
            return v.logits[slot][:rows], v.values[slot][:rows], version
        try:
            if status == _NOT_LOADED:
                raise ModelNotLoaded(v.message(slot))
            if status != _OK:
                raise RuntimeError(f"the inference server failed a request: {v.message(slot)}")
            return v.logits[slot][:rows].copy(), v.values[slot][:rows].copy(), version
        finally:
            self.release(slot)

    def release(self, slot: int) -> None:
        """``slot`` is free again (its answer was read)."""
        with self._lock:
            self._answered[slot] = False
            self._return(slot)

    def abandon(self, slot: int) -> None:
        """Give up on ``slot``'s request: the slot is free once its answer comes (now, if it
        came already; nothing to do if it was read)."""
        with self._lock:
            if slot in self._free or slot in self._leased_idle:
                return
            if self._answered[slot]:
                self._answered[slot] = False
                self._return(slot)
            else:
                self._abandoned.add(slot)

    def close(self) -> None:
        """Break the channel: every waiting request hears it is lost; the files go."""
        with self._lock:
            if self.broken:
                return
            self.broken = True
            os.close(self._req)  # submit() checks ``broken`` under the lock first
            if self._reading:
                with contextlib.suppress(OSError):
                    os.write(self._wake_w, b"\0")  # the reader closes its fds, and exits
            else:
                for fd in (self._ans, self._wake_r, self._wake_w):
                    os.close(fd)
        for end in ("", ".req", ".ans"):  # gone before anyone hears the channel broke
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{end}")
        for done in self._done:
            done.set()
        for future in self._futures:
            with contextlib.suppress(InvalidStateError):  # already done: answered
                future.set_result(None)


@dataclass(frozen=True)
class _Pending:
    channel: _ClientChannel
    slot: int


class ChannelLink:
    """A :class:`~blobrl.inference.client.ServerLink` that sends requests of up to ``rows`` rows
    through a shared-memory channel when the server shares this machine, and everything else
    (larger requests, another model, all of them while no channel is attached) through
    ``fallback``. ``attach(spec)`` asks the server to map the channel and returns its process
    id, or None when it cannot (another machine, an older server); it is tried again at most
    every 30 s while it fails."""

    def __init__(
        self,
        fallback: ServerLink,
        attach: Callable[[ChannelSpec], int | None],
        *,
        model: str | None = None,
        slots: int = SLOTS,
        rows: int = SLOT_ROWS,
        directory: Path | None = None,
    ) -> None:
        if not 1 <= slots <= _MAX_SLOTS:
            raise ValueError(f"slots must be 1..{_MAX_SLOTS}, got {slots}")
        self.fallback = fallback
        self.model = model
        self.shared = 0  # requests sent through the channel
        self.fell_back = 0  # requests sent through the fallback
        self._attach = attach
        self._slots, self._rows = slots, rows
        self._directory = directory
        self._channel: _ClientChannel | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @property
    def attached(self) -> bool:
        return self._channel is not None and not self._channel.broken

    @property
    def free_slots(self) -> int:
        """Slots of the attached channel not holding a request (0 when none is attached)."""
        channel = self._channel
        return 0 if channel is None or channel.broken else channel.free_slots

    @property
    def max_rows(self) -> int | None:
        """Rows :class:`~blobrl.inference.client.InferenceClient` puts in one request: a slot's
        while the channel is (or may soon be) attached; None (the client's own chunking, the
        one that suits Ray) while requests go through the fallback."""
        return self._rows if self.attached or time.monotonic() >= self._retry_at else None

    def _ready(self) -> _ClientChannel | None:
        channel = self._channel
        if channel is not None and not channel.broken:
            return channel
        if time.monotonic() < self._retry_at:
            return None
        with self._lock:
            if self._channel is not None and not self._channel.broken:
                return self._channel
            if self._channel is not None:
                self._channel.close()
            self._channel = None
            try:
                channel = _ClientChannel(
                    self._directory or channel_dir(), self._slots, self._rows, self.model
                )
            except OSError as err:
                log.warning("no shared-memory channel (%s); requests go through Ray", err)
                self._retry_at = time.monotonic() + _RETRY_S
                return None
            try:
                server_pid = self._attach(channel.spec)
            except Exception as err:  # the server could not be asked: it may be restarting
                log.debug("attach failed: %r", err)
                server_pid = None
            if server_pid is None:
                channel.close()
                self._retry_at = time.monotonic() + _RETRY_S
                return None
            channel.start(server_pid)
            self._channel = channel
            weakref.finalize(self, channel.close)  # a link dropped unclosed frees its files
            return channel

    def version(self) -> int:
        return self.fallback.version()

    def send(self, bits: np.ndarray, cont: np.ndarray, model: str | None) -> Any:
        if bits.shape[0] <= self._rows and model == self.model:
            channel = self._ready()
            slot = None if channel is None else channel.submit(bits, cont)
            if channel is not None and slot is not None:
                self.shared += 1
                return _Pending(channel, slot)
        self.fell_back += 1
        return self.fallback.send(bits, cont, model)

    def lease(self, rows: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Request arrays of ``rows`` rows in a slot of the channel, lent for as long as the
        caller keeps them (``_ClientChannel.lease``): a request written there goes without
        a copy. None while no channel is attached, or when it has none to lend."""
        channel = self._ready()
        return None if channel is None else channel.lease(rows)

    def drain(self) -> None:
        """Take in the channel's answers that have come, in this thread (see
        ``_ClientChannel.drain``)."""
        channel = self._channel
        if channel is not None:
            channel.drain()

    @contextlib.contextmanager
    def polling(self) -> Iterator[None]:
        """While in it, the calling thread takes in its answers itself, by :meth:`drain` and
        :meth:`wait`, and the reader thread stays asleep unless someone waits (a channel
        attached meanwhile, after a server restart, keeps its reader reading)."""
        channel = self._ready()
        with channel.polling() if channel is not None else contextlib.nullcontext():
            yield

    def wait(self, futures: list[Future[Any]], timeout_s: float | None) -> None:
        """Until one of ``futures`` (of this link's requests) is done, or ``timeout_s``. With
        a channel attached the calling thread listens on it and takes in the answers itself
        (no handoff from the reader thread), looking at the futures at least every
        :data:`_LISTEN_S` for those it cannot hear of (requests that went through the fallback,
        answers another thread took in)."""
        channel = self._channel
        if channel is None or channel.broken:
            wait(futures, timeout_s, FIRST_COMPLETED)
            return
        end = math.inf if timeout_s is None else time.monotonic() + timeout_s
        while True:
            channel.drain()
            if channel.broken or any(f.done() for f in futures):
                return
            left = min(end - time.monotonic(), _LISTEN_S)
            if left <= 0:
                return
            channel.listen(left)

    def future(self, pending: Any) -> Future[Any]:
        """Done once the request's answer is in (or it was lost with the channel)."""
        if isinstance(pending, _Pending):
            return pending.channel.future(pending.slot)
        return self.fallback.future(pending)  # type: ignore[attr-defined]

    def gather(self, pending: list[Any], timeout_s: float, *, copy: bool = True) -> list[Answer]:
        """As :meth:`ServerLink.gather`; with ``copy`` False the answers from the channel are
        views of their slots, held until :meth:`release`."""
        deadline = time.monotonic() + timeout_s
        try:
            others = [p for p in pending if not isinstance(p, _Pending)]
            answers = iter(self.fallback.gather(others, timeout_s) if others else [])
            return [
                p.channel.result(p.slot, deadline - time.monotonic(), copy=copy)
                if isinstance(p, _Pending)
                else next(answers)
                for p in pending
            ]
        except BaseException:
            self._abandon(pending)
            raise

    def release(self, pending: list[Any]) -> None:
        """Free the slots of answers gathered as views (``copy=False``), once read."""
        for p in pending:
            if isinstance(p, _Pending):
                p.channel.release(p.slot)

    def cancel(self, pending: list[Any]) -> None:
        self._abandon(pending)
        self.fallback.cancel([p for p in pending if not isinstance(p, _Pending)])

    def _abandon(self, pending: list[Any]) -> None:
        for p in pending:
            if isinstance(p, _Pending):
                p.channel.abandon(p.slot)

    def close(self) -> None:
        """Close the channel (its files go; the server drops it when it next looks)."""
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = None


Evaluate = Callable[[np.ndarray, np.ndarray, str | None], Awaitable[Answer]]


@dataclass
class _ServerChannel:
    spec: ChannelSpec
    memory: mmap.mmap
    views: _Slots
    req: int
    ans: int


class ChannelServer:
    """The server's end of every attached channel: one thread reads the request FIFOs and
    hands each request to ``evaluate`` (a server's ``evaluate_packed``) on ``loop``, and the
    answer goes back into the slot."""

    def __init__(self, evaluate: Evaluate, loop: asyncio.AbstractEventLoop) -> None:
        self._evaluate = evaluate
        self._loop = loop
        self._channels: dict[int, _ServerChannel] = {}  # by request FIFO
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()

    def attach(self, spec: ChannelSpec) -> int | None:
        """Map ``spec``'s channel; this process's id, or None when its files are not here or its
        client is not a process of this machine."""
        path = Path(spec.path)
        if not path.is_file() or not alive(spec.client_pid):
            return None
        try:
            with open(path, "r+b") as f:
                memory = mmap.mmap(f.fileno(), 0)
            req = os.open(f"{path}.req", os.O_RDWR | os.O_NONBLOCK)
            ans = os.open(f"{path}.ans", os.O_RDWR | os.O_NONBLOCK)
        except OSError as err:
            log.warning("cannot attach channel %s: %s", path, err)
            return None
        channel = _ServerChannel(spec, memory, _Slots(memory, spec.slots, spec.rows), req, ans)
        with self._lock:
            self._channels[req] = channel
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="inference-channels", daemon=True
                )
                self._thread.start()
        os.write(self._wake_w, b"\0")
        return os.getpid()

    @property
    def attached(self) -> int:
        return len(self._channels)

    def _serve(self) -> None:
        watched = time.monotonic()
        while True:
            with self._lock:
                fds = list(self._channels)
            ready, _, _ = select.select([self._wake_r, *fds], [], [], _WATCH_S)
            for fd in ready:
                if fd == self._wake_r:
                    os.read(fd, 64)
                    continue
                channel = self._channels.get(fd)
                if channel is None:
                    continue
                try:
                    slots = os.read(fd, 256)
                except BlockingIOError:
                    continue
                for slot in slots:
                    future: Future[None] = asyncio.run_coroutine_threadsafe(
                        self._answer(channel, slot), self._loop
                    )
                    future.add_done_callback(_log_failure)
            if time.monotonic() - watched >= _WATCH_S:
                watched = time.monotonic()
                for channel in list(self._channels.values()):
                    if not alive(channel.spec.client_pid) or not Path(channel.spec.path).exists():
                        self._drop(channel)

    async def _answer(self, channel: _ServerChannel, slot: int) -> None:
        v = channel.views
        header = v.header[slot]
        rows = int(header[0])
        try:
            logits, values, version = await self._evaluate(
                v.bits[slot][:rows], v.cont[slot][:rows], channel.spec.model
            )
            v.logits[slot][:rows] = logits
            v.values[slot][:rows] = values
            header[1], header[2] = _OK, version
        except ModelNotLoaded as err:
            header[1] = _NOT_LOADED
            v.set_message(slot, str(err))
        except Exception as err:  # the client raises it; the server keeps serving
            header[1] = _FAILED
            v.set_message(slot, f"{type(err).__name__}: {err}")
        with self._lock:  # a dropped channel's fds are closed (their numbers may be reused)
            if self._channels.get(channel.req) is channel:
                with contextlib.suppress(OSError):
                    os.write(channel.ans, bytes((slot,)))

    def _drop(self, channel: _ServerChannel) -> None:
        """Forget ``channel`` (called by the serving thread, the only one that selects on it)."""
        with self._lock:
            self._channels.pop(channel.req, None)
            for fd in (channel.req, channel.ans):
                with contextlib.suppress(OSError):
                    os.close(fd)
        for end in ("", ".req", ".ans"):  # a client that died left them
            with contextlib.suppress(OSError):
                os.unlink(f"{channel.spec.path}{end}")


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("answering a channel request failed: %r", future.exception())


class ServesChannels:
    """Gives a server with an async ``evaluate_packed(bits, cont, model)`` the
    :meth:`attach_channel` call that :class:`ChannelLink` makes."""

    _channel_server: ChannelServer | None = None

    async def attach_channel(self, spec: ChannelSpec) -> int | None:
        """Map a client's shared-memory channel (:meth:`ChannelServer.attach`)."""
        if self._channel_server is None:
            evaluate = self.evaluate_packed  # type: ignore[attr-defined]
            self._channel_server = ChannelServer(evaluate, asyncio.get_running_loop())
        return self._channel_server.attach(spec)

    def channels_attached(self) -> int:
        """How many clients' channels this server holds."""
        return 0 if self._channel_server is None else self._channel_server.attached
