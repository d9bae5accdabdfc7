"""The client a search in another process uses to reach the InferenceServer.

:class:`InferenceClient` is the evaluator a self-play or evaluation search calls
(``client(features) -> (logits, values)``). It packs the rows (:func:`pack_rows`), sends them in
requests of at most :data:`WIRE_ROWS`, all at once (the server batches them together again), or
as one request when there are more than :data:`SINGLE_REQUEST_ROWS`, and puts the answers back
together. How a request reaches the server is a :class:`ServerLink`: the actors layer gives one
over a Ray actor handle (:class:`blobrl.actors.inference.RayLink`), tests give a fake.

Over a link that tells when an answer is in (``future``), :meth:`InferenceClient.start` sends a
step's rows and returns at once (a :class:`Call`), so that one thread can keep several searches
going, each searching while the others' rows are evaluated (the self-play worker's game groups).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

import numpy as np

from blobrl.inference.codec import (
    SINGLE_REQUEST_ROWS,
    WIRE_ROWS,
    Answer,
    ModelNotLoaded,
    pack_rows,
)

log = logging.getLogger(__name__)

Rows = tuple[np.ndarray, np.ndarray]  # one request's rows in wire form: (bits, cont)


class NoAnswer(TimeoutError):
    """The server sent no answer within the time asked (:meth:`ServerLink.gather`)."""


class ServerLink(Protocol):
    """The calls an :class:`InferenceClient` makes of one server. A request in progress
    (what :meth:`send` returns) is whatever the link likes: a Ray ObjectRef, say."""

    def version(self) -> int:
        """The server's :meth:`~blobrl.inference.InferenceServer.get_version`."""
        ...

    def send(self, bits: np.ndarray, cont: np.ndarray, model: str | None) -> Any:
        """Start the server's ``evaluate_packed(bits, cont[, model])``; returns the request."""
        ...

    def gather(self, pending: list[Any], timeout_s: float) -> list[Answer]:
        """The answers to ``pending``, in order. Raises :class:`NoAnswer` when they are not all
        in after ``timeout_s``, and what the server raised (:class:`ModelNotLoaded`, ...)."""
        ...

    def cancel(self, pending: list[Any]) -> None:
        """Give up on ``pending`` (best effort, never raises)."""
        ...


# A link may also have ``max_rows`` (int or None): the most rows it wants in one request, where
# the client's own chunking (WIRE_ROWS inline, SINGLE_REQUEST_ROWS) suits Ray's calls but not
# a shared-memory channel (blobrl.inference.channel); ``future(pending)``: a Future that is
# done once that request's answer (or its failure) is in, which InferenceClient.start needs;
# ``drain()``: take in the answers that have come, in the calling thread (Call.poll,
# Call.refresh); ``wait(futures, timeout_s)``: wait for one of them, as that link best does it;
# ``polling()``: a context in which the calling thread takes in its own answers; and
# ``lease(rows)``: request arrays it sends from without a copy (InferenceClient.row_buffers).


class Call:
    """One step's rows on their way to the server (:meth:`InferenceClient.start`).

    ``futures`` are done once every answer is in; :meth:`poll` then gives the answer, and
    before that (or before ``deadline``) None. Over a link that can (a shared-memory channel)
    the answer is read where it lies, valid until :meth:`release`. A request still unanswered
    at ``deadline`` is cancelled and sent again, and a network the server lost is loaded
    again, as a blocking call does; the rows (the caller's arrays) must stay as they are until
    the answer."""

    def __init__(self, client: InferenceClient, parts: list[Rows]) -> None:
        self._client, self._parts = client, parts
        self.futures: list[Future[Any]] = []
        self.deadline = 0.0
        self._held: list[Any] = []  # requests whose answers poll() gave in place
        self._send()

    def _send(self) -> None:
        client = self._client
        link = client.link
        self._pending = [link.send(bits, cont, client.model) for bits, cont in self._parts]
        self.futures = [link.future(p) for p in self._pending]  # type: ignore[attr-defined]
        self.deadline = time.monotonic() + client.timeout_s

    def poll(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The answer, once every part is in; None before (or when a part had to be sent
        again). Raises what the server raised, as a blocking call does."""
        if not all(f.done() for f in self.futures):
            self.refresh()  # answers that came, taken in here rather than by a reader thread
            if not all(f.done() for f in self.futures) and time.monotonic() < self.deadline:
                return None
        client = self._client
        link = client.link
        in_place = callable(getattr(link, "release", None))
        try:
            if not self._pending:
                answers = []
            elif in_place:  # read where it lies until release(): no copy out of the slot
                answers = link.gather(self._pending, 0.0, copy=False)  # type: ignore[call-arg]
            else:
                answers = link.gather(self._pending, 0.0)
        except (NoAnswer, ModelNotLoaded) as exc:
            client._recover(exc, self._pending)
            self._send()
            return None
        self._held = self._pending if in_place else []
        return client._joined(answers)

    def refresh(self) -> None:
        """Take in the answers that have come (for this call and others of its client), so that
        their futures show it."""
        drain = getattr(self._client.link, "drain", None)
        if drain is not None:
            drain()

    def wait(self, futures: list[Future[Any]], timeout_s: float | None) -> None:
        """Until one of ``futures`` (of calls of this client) is done, or ``timeout_s``."""
        link_wait = getattr(self._client.link, "wait", None)
        if link_wait is not None:
            link_wait(futures, timeout_s)
        else:
            wait(futures, timeout_s, FIRST_COMPLETED)

    def release(self) -> None:
        """The answer :meth:`poll` gave has been read: what holds it (a channel's slot, whose
        memory it is) is free again."""
        if self._held:
            self._client.link.release(self._held)  # type: ignore[attr-defined]
            self._held = []

    def cancel(self) -> None:
        """Give the call up: its requests are cancelled (what they hold is freed)."""
        self._client.link.cancel(self._pending)


class InferenceClient:
    """``client(features) -> (logits, values)`` through ``link``, for a search in another
    process. ``version`` is the version of the weights behind the latest answer (asked of the
    server once, before the first one).

    With ``model``, requests go to the network the server holds under that name; ``reload``
    (a function that loads it again) is called when the server no longer has it, after a
    restart, and the request is sent again.

    Rows go packed (:func:`pack_rows`), in requests of at most :data:`WIRE_ROWS` sent all at
    once (the server batches them together again), so that Ray passes them inline; a batch of
    more than :data:`SINGLE_REQUEST_ROWS` rows goes as one request (through Ray's object store),
    which costs less than the many calls it would take inline.

    A request that still has no answer after ``timeout_s`` (lost in a restart, say) is
    cancelled and sent again, so a search never waits forever on one request.
    """

    def __init__(
        self,
        link: ServerLink,
        *,
        model: str | None = None,
        reload: Callable[[], None] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.link = link
        self.model = model
        self.timeout_s = timeout_s
        self.resent = 0  # requests sent again after ``timeout_s`` without an answer
        self.reloaded = 0  # times ``reload`` was needed
        self._reload = reload
        self._version: int | None = None
        # The learned rollout rule of the weights the server holds, for a search's rollouts
        # (``search.rollout: learned``); its owner sets it when weights are published. None:
        # the greedy rule.
        self.rollout_weights: np.ndarray | None = None

    @property
    def version(self) -> int:
        if self._version is None:
            self._version = int(self.link.version())
        return self._version

    @property
    def asynchronous(self) -> bool:
        """Whether :meth:`start` may be used: the link tells when an answer is in."""
        return callable(getattr(self.link, "future", None))

    def row_buffers(self, rows: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Arrays for a caller that writes its rows in wire form itself (a search's leaf
        batch), ``(bits[rows, WIRE_BIT_BYTES], cont[rows, CONT])``, in memory the link sends
        from without a copy (a shared-memory channel's slot, lent while the caller keeps
        them); None when the link has none."""
        lease = getattr(self.link, "lease", None)
        return None if lease is None else lease(rows)

    def polling(self) -> AbstractContextManager[None]:
        """A context for a thread that keeps several calls going and takes in their answers
        itself (:meth:`Call.refresh`, :meth:`Call.wait`): over a shared-memory channel its reader
        thread then sleeps except while that thread waits."""
        polling = getattr(self.link, "polling", None)
        return polling() if polling is not None else nullcontext()

    def start(self, rows: tuple[np.ndarray, ...]) -> Call:
        """Send one step's rows, ``(features,)`` or ``(bits, cont)`` in wire form, and return
        at once; the :class:`Call` gives the answer (needs :attr:`asynchronous`)."""
        return Call(self, self._requests(*rows))

    def __call__(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``float32[B, FEATURES]`` -> (``float32[B, 65]`` logits, ``float32[B, 8]`` values)."""
        return self._evaluate(self._requests(features))

    def packed_rows(self, bits: np.ndarray, cont: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As calling the client, for rows already in the wire form (:func:`pack_rows`'s
        ``bits`` and ``cont``), as a search writes them for a client (BatchedSearch)."""
        return self._evaluate(self._requests(bits, cont))

    def _requests(self, *rows: np.ndarray) -> list[Rows]:
        """``(features,)`` packed, or ``(bits, cont)`` as they are, cut into requests of
        :meth:`_step` rows."""
        if len(rows) == 1:
            features = np.asarray(rows[0], dtype=np.float32)
            step = self._step(features.shape[0])
            return [pack_rows(features[i : i + step]) for i in range(0, len(features), step)]
        bits, cont = rows
        step = self._step(bits.shape[0])
        return [(bits[i : i + step], cont[i : i + step]) for i in range(0, len(bits), step)]

    def _step(self, rows: int) -> int:
        """Rows per request: the link's own size if it has one, else WIRE_ROWS inline, or the
        whole batch as one request through the object store above SINGLE_REQUEST_ROWS."""
        step = getattr(self.link, "max_rows", None)
        if not step:
            step = rows if rows > SINGLE_REQUEST_ROWS else WIRE_ROWS
        return max(step, 1)

    def _evaluate(self, packed: list[Rows]) -> tuple[np.ndarray, np.ndarray]:
        while True:
            pending = [self.link.send(bits, cont, self.model) for bits, cont in packed]
            try:
                answers = self.link.gather(pending, self.timeout_s) if pending else []
            except (NoAnswer, ModelNotLoaded) as exc:
                self._recover(exc, pending)
                continue
            return self._joined(answers)

    def _recover(self, exc: Exception, pending: list[Any]) -> None:
        """After ``pending`` failed with ``exc``: cancel them (no answer in time) or load the
        network again (the server lost it), so they can be sent again; re-raise when neither
        helps."""
        if isinstance(exc, NoAnswer):
            self.link.cancel(pending)
            self.resent += 1
            log.warning(
                "no answer from the inference server in %.0f s; sending the request again",
                self.timeout_s,
            )
            return
        if self._reload is None:
            raise exc
        log.warning("the inference server lost network %r; loading it again", self.model)
        self._reload()
        self.reloaded += 1

    def _joined(self, answers: list[Answer]) -> tuple[np.ndarray, np.ndarray]:
        """The answers of a step's requests as one (logits, values); notes the newest version."""
        if not answers:
            return np.zeros((0, 65), np.float32), np.zeros((0, 8), np.float32)
        # Requests may straddle a weight swap; the answer carries the newest version.
        self._version = max(int(version) for _, _, version in answers)
        if len(answers) == 1:
            return answers[0][0], answers[0][1]
        return (
            np.concatenate([logits for logits, _, _ in answers]),
            np.concatenate([values for _, values, _ in answers]),
        )
