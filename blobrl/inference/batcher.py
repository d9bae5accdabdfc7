"""Which rows go into each forward pass of the InferenceServer, and back to whom.

:class:`RequestQueue` holds the requests waiting for the network in arrival order and cuts
batches from its head (:meth:`RequestQueue.take_batch`): whole requests for one network, up to
``max_batch`` rows, a request split over consecutive batches only when it alone exceeds
``max_batch``. :func:`deliver` hands each request its rows of a batch's answer and completes its
future once every row is answered. No asyncio loop runs here; the server drives both.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from blobrl.inference.codec import Answer


@dataclass(eq=False)
class Request:
    """One caller's leaf batch, waiting for (or part-way through) its forward passes."""

    features: np.ndarray | None  # [B, FEATURES] float32, or None for packed rows
    future: asyncio.Future[Answer]
    arrived: float  # perf_counter seconds
    model: str | None = None  # a network loaded by name, or None for the self-play one
    bits: np.ndarray | None = None  # packed rows (pack_rows): uint8[B, WIRE_BIT_BYTES] ...
    cont: np.ndarray | None = None  # ... and float32[B, CONT]
    taken: int = 0  # rows already dispatched to a batch
    done: int = 0  # rows answered
    parts: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        rows = self.features if self.features is not None else self.bits
        assert rows is not None, "a request holds float rows or packed ones"
        return rows.shape[0]

    @property
    def packed(self) -> bool:
        return self.features is None


Piece = tuple[Request, int, int]  # (request, start, stop): rows start:stop of one request


class RequestQueue:
    """Requests in arrival order; ``rows`` counts the queued rows not yet in a batch."""

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        self.rows = 0
        self.wait_s = 0.0  # summed over requests: arrival to the dispatch of its first rows
        self.waits = 0  # requests dispatched
        self._queue: deque[Request] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def head(self) -> Request:
        """The oldest request still waiting (the queue must not be empty)."""
        return self._queue[0]

    def put(self, request: Request) -> None:
        self._queue.append(request)
        self.rows += request.rows

    def split_in_flight(self) -> bool:
        """Whether the head is a request part-way through its batches (a weight swap waits)."""
        return bool(self._queue) and self._queue[0].taken > 0

    def drop_cancelled(self) -> None:
        """Forget requests at the head whose callers gave up before any row was dispatched."""
        while self._queue and self._queue[0].future.done() and self._queue[0].taken == 0:
            self.rows -= self._queue.popleft().rows

    def take_batch(self) -> list[Piece]:
        """Pieces (request, start, stop) for one forward pass, in queue order: the requests at
        the head of the queue for the same network."""
        pieces: list[Piece] = []
        size = 0
        now = time.perf_counter()
        model = self._queue[0].model
        while self._queue:
            request = self._queue[0]
            if request.model != model:
                break
            left = request.rows - request.taken
            if size + left > self.max_batch:
                if size > 0:
                    break  # whole requests only, unless one alone exceeds max_batch
                left = self.max_batch
            if request.taken == 0:
                self.wait_s += now - request.arrived
                self.waits += 1
            pieces.append((request, request.taken, request.taken + left))
            request.taken += left
            self.rows -= left
            size += left
            if request.taken < request.rows:
                break  # the rest of a split request goes first in the next batch
            self._queue.popleft()
        return pieces

    def fail(self, request: Request, exc: BaseException) -> None:
        """Fail ``request``'s caller, and drop what is left of it if it is still queued."""
        if not request.future.done():
            request.future.set_exception(exc)
        if request.taken < request.rows and self._queue and self._queue[0] is request:
            self.rows -= request.rows - request.taken
            self._queue.popleft()

    def fail_all(self, exc: BaseException) -> None:
        """Fail every queued request (the server is closing)."""
        while self._queue:
            request = self._queue.popleft()
            if not request.future.done():
                request.future.set_exception(exc)


def deliver(pieces: list[Piece], logits: np.ndarray, values: np.ndarray, version: int) -> None:
    """Hand each piece its rows of one batch's answer (``logits [N, 65]``, ``values [N, 8]``,
    N the pieces' rows in order); a request whose rows are all answered gets its result."""
    offset = 0
    for request, start, stop in pieces:
        n = stop - start
        request.parts.append((logits[offset : offset + n], values[offset : offset + n]))
        request.done += n
        offset += n
        if request.done == request.rows and not request.future.done():
            if len(request.parts) == 1:
                out_logits, out_values = request.parts[0]
            else:
                out_logits = np.concatenate([p[0] for p in request.parts])
                out_values = np.concatenate([p[1] for p in request.parts])
            request.parts.clear()
            request.future.set_result((out_logits, out_values, version))
