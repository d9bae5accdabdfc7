"""The InferenceServer: one network, many callers, dynamic batching, versioned weights.

Self-play and evaluation actors send whole leaf batches (``float32[B, FEATURES]``). The server
queues them, merges the queue into one forward pass of up to ``max_batch`` rows (waiting at most
``max_wait_ms`` after the oldest queued request arrived for the batch to fill), runs the network
on a dedicated thread so that the event loop keeps accepting requests, and hands each caller
exactly its own rows back (which rows go into which batch: :mod:`blobrl.inference.batcher`).

Besides the self-play network the server can hold other networks by name (:meth:`load_model`):
the EvaluatorActor's arenas send their requests for them, so that arenas run on the GPU too.
A batch only ever holds requests for one network.

:class:`InferenceServer` is plain Python over asyncio and is tested without Ray. Its request
methods are coroutines, so behind ``ray.remote`` it is an async actor that answers many calls at
once (:data:`blobrl.actors.inference.InferenceServerActor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
import uuid
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from blobrl.data.wire import WIRE_BIT_BYTES
from blobrl.game import FEATURES
from blobrl.game.encoding import CONT_INDEX
from blobrl.inference.batcher import Piece, Request, RequestQueue, deliver
from blobrl.inference.channel import ServesChannels
from blobrl.inference.codec import (
    Answer,
    ModelNotLoaded,
    check_request,
    unpack_into,
    unpack_request,
)
from blobrl.nn import (
    BlobNet,
    NetworkConfig,
    TorchEvaluator,
    build_network,
    bytes_to_state_dict,
)

Weights = bytes | Mapping[str, torch.Tensor]


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when this process sees a GPU, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass(frozen=True)
class InferenceStats:
    """Counters since the server started, and its throughput over a recent window."""

    requests: int  # evaluate() calls answered or queued
    rows: int  # positions evaluated
    batches: int  # forward passes
    mean_batch_rows: float
    mean_queue_wait_ms: float  # arrival of a request to the dispatch of its first rows
    evals_per_s: float  # rows per second over the last ``window_s`` seconds
    window_s: float
    device: str
    version: int
    gpu_memory_bytes: int  # allocated by torch on the server's GPU; 0 on the CPU


@dataclass
class _Swap:
    state_dict: Mapping[str, torch.Tensor]
    version: int
    future: asyncio.Future[None]


class InferenceServer(ServesChannels):
    """Dynamic-batching evaluator over one :class:`TorchEvaluator`.

    ``network`` is a :class:`NetworkConfig` (a fresh network is built, then ``weights`` loaded)
    or an already built :class:`BlobNet`. ``device`` is ``auto`` (CUDA if available), ``cpu`` or
    ``cuda[:i]``; on CUDA the model runs under bf16 autocast from a pinned staging buffer.
    ``torch_threads``, when given, sets torch's (process-wide) intra-op thread count.
    Packed rows (:meth:`evaluate_packed`) are unpacked on the model's device when
    ``unpack_on_device`` (default: on CUDA), else on the host as they arrive.
    With ``wait_for_weights``, requests are held until the first :meth:`set_weights`: a server
    that Ray restarts comes back with its constructor's weights, and holding its callers until
    the Coordinator publishes the current ones again means no game is played with stale weights.

    A request is never split between batches unless it alone exceeds ``max_batch``; then its
    pieces run in consecutive batches. Weight swaps happen between batches and never while a
    split request is part-way through, so every answer comes from one set of weights.

    The batching loop starts on the first :meth:`evaluate` in the running event loop; all
    coroutine methods must be awaited in that same loop. :meth:`close` stops it.
    """

    def __init__(
        self,
        network: NetworkConfig | BlobNet | None = None,
        *,
        weights: Weights | None = None,
        version: int = 0,
        device: str = "auto",
        max_batch: int = 1024,
        max_wait_ms: float = 2.0,
        torch_threads: int | None = None,
        window_s: float = 10.0,
        wait_for_weights: bool = False,
        unpack_on_device: bool | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        model = network if isinstance(network, torch.nn.Module) else build_network(network)
        self.device = resolve_device(device)
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self.window_s = window_s
        self._evaluator = TorchEvaluator(model, device=self.device, version=version)
        self._models: dict[str, TorchEvaluator] = {}  # more networks by name (load_model)
        if weights is not None:
            self._evaluator.set_weights(_state_dict(weights), version)
        # Which process this is: a restarted server answers with a new one.
        self._instance = uuid.uuid4().hex
        self._loaded = weights is not None or not wait_for_weights
        cuda = self.device.type == "cuda"
        staging = torch.zeros((max_batch, FEATURES), dtype=torch.float32)
        # Pinned host memory lets the copy to the GPU run by DMA.
        self._staging = (staging.pin_memory() if cuda else staging).numpy()
        self._always_stage = cuda
        # A batch of packed rows only (every channel's and client's) goes to the device packed,
        # to be unpacked there: on a GPU 1/16 of the bytes cross, and the host unpacks nothing
        # (an H200's server unpacking on the host, 16 cores busy, took about 18 ms a batch of
        # 7,855 rows beside a 2 ms forward pass). Mixed with float rows, they are unpacked into
        # the staging rows. On the CPU, a request is unpacked as it arrives, on another core
        # than the forward pass before it.
        self._packed_staging: tuple[np.ndarray, np.ndarray] | None = None
        on_device = cuda if unpack_on_device is None else unpack_on_device
        if on_device:
            bits = torch.zeros((max_batch, WIRE_BIT_BYTES), dtype=torch.uint8)
            cont = torch.zeros((max_batch, CONT_INDEX.shape[0]), dtype=torch.float32)
            if cuda:
                bits, cont = bits.pin_memory(), cont.pin_memory()
            self._packed_staging = (bits.numpy(), cont.numpy())
        # One thread runs every forward pass and every weight load, so they never overlap.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._executor.submit(self._evaluator, self._staging[:1]).result()  # warm up
        self._queue = RequestQueue(max_batch)
        self._swap: _Swap | None = None
        self._wake = asyncio.Event()  # replaced in the loop that runs the batching task
        self._loop_task: asyncio.Task | None = None
        self._requests = 0
        self._rows = 0
        self._batches = 0
        self._recent: deque[tuple[float, int]] = deque()  # (finish time, rows) per batch
        self._started = time.perf_counter()

    @property
    def version(self) -> int:
        """Version of the weights that the next batch will use."""
        return self._evaluator.version

    def get_version(self) -> int:
        """:attr:`version` as a method, for callers through a Ray handle."""
        return self.version

    def instance(self) -> str:
        """An id of this server process; it changes when Ray restarts the actor."""
        return self._instance

    @property
    def loaded(self) -> bool:
        """Whether requests are answered (False only while waiting for the first weights)."""
        return self._loaded

    # -- requests --------------------------------------------------------------------------

    async def evaluate(
        self, features: np.ndarray, model: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``float32[B, FEATURES]`` -> (``float32[B, 65]`` logits, ``float32[B, 8]`` values),
        from the self-play network or the one loaded as ``model``."""
        logits, values, _ = await self.evaluate_versioned(features, model)
        return logits, values

    async def evaluate_versioned(self, features: np.ndarray, model: str | None = None) -> Answer:
        """As :meth:`evaluate`, plus the version of the weights that produced the answer (-1
        for a network loaded by name). Raises :class:`ModelNotLoaded` for an unknown ``model``."""
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != FEATURES:
            raise ValueError(f"features must be [B, {FEATURES}], got shape {features.shape}")
        return await self._submit(features.shape[0], model, features, None, None)

    async def evaluate_packed(
        self, bits: np.ndarray, cont: np.ndarray, model: str | None = None
    ) -> Answer:
        """:meth:`evaluate_versioned` for rows packed by :func:`pack_rows` (how
        :class:`~blobrl.inference.client.InferenceClient` sends them). With
        ``unpack_on_device`` they stay packed until their batch; otherwise they are unpacked
        now, while the batch before runs (on a spare core)."""
        if self._packed_staging is None:
            return await self.evaluate_versioned(unpack_request(bits, cont), model)
        bits, cont = check_request(bits, cont)
        # Copied (a sixteenth of the float rows): a channel's slot is the caller's again once
        # it gives up waiting.
        return await self._submit(bits.shape[0], model, None, bits.copy(), cont.copy())

    async def _submit(
        self,
        rows: int,
        model: str | None,
        features: np.ndarray | None,
        bits: np.ndarray | None,
        cont: np.ndarray | None,
    ) -> Answer:
        if model is not None and model not in self._models:
            raise ModelNotLoaded(model)
        self._ensure_loop()
        self._requests += 1
        if rows == 0:
            return (
                np.zeros((0, 65), np.float32),
                np.zeros((0, 8), np.float32),
                self.version,
            )
        future = asyncio.get_running_loop().create_future()
        request = Request(features, future, time.perf_counter(), model, bits, cont)
        self._queue.put(request)
        self._wake.set()
        return await request.future

    async def set_weights(self, weights: Weights, version: int) -> None:
        """Load ``weights`` (bytes from :func:`state_dict_to_bytes`, or a state dict) as
        ``version``. Returns once the swap is done: batches before it used the old weights,
        batches after it the new ones."""
        state_dict = _state_dict(weights)
        # Always through the batching loop, which runs swaps and batches one at a time: a swap
        # applied beside it could land between a batch reading its version and its forward
        # pass, which then answered with the new weights under the old version.
        self._ensure_loop()
        if self._swap is not None:  # a newer publication supersedes one not yet applied
            previous, self._swap = self._swap, None
            previous.future.set_result(None)
        self._swap = _Swap(state_dict, version, asyncio.get_running_loop().create_future())
        self._wake.set()
        await self._swap.future

    async def load_model(self, name: str, weights: Weights) -> None:
        """Hold a network with ``weights`` (the same architecture) under ``name``, for requests
        that name it; loading a name again replaces its weights."""
        state_dict = _state_dict(weights)
        loop = asyncio.get_running_loop()
        self._models[name] = await loop.run_in_executor(
            self._executor, self._named_evaluator, state_dict
        )

    def unload_model(self, name: str) -> None:
        """Drop the network loaded as ``name`` (requests still queued for it fail)."""
        self._models.pop(name, None)

    def models(self) -> list[str]:
        """Names of the networks loaded besides the self-play one."""
        return sorted(self._models)

    def _named_evaluator(self, state_dict: Mapping[str, torch.Tensor]) -> TorchEvaluator:
        model = copy.deepcopy(self._evaluator.model)
        model.load_state_dict(state_dict)
        return TorchEvaluator(model, device=self.device, version=-1)

    def stats(self) -> InferenceStats:
        now = time.perf_counter()
        self._trim_recent(now)
        span = min(self.window_s, now - self._started)
        recent_rows = sum(rows for _, rows in self._recent)
        gpu = torch.cuda.memory_allocated(self.device) if self.device.type == "cuda" else 0
        return InferenceStats(
            requests=self._requests,
            rows=self._rows,
            batches=self._batches,
            mean_batch_rows=self._rows / self._batches if self._batches else 0.0,
            mean_queue_wait_ms=(
                1000.0 * self._queue.wait_s / self._queue.waits if self._queue.waits else 0.0
            ),
            evals_per_s=recent_rows / span if span > 0 else 0.0,
            window_s=self.window_s,
            device=str(self.device),
            version=self.version,
            gpu_memory_bytes=int(gpu),
        )

    async def close(self) -> None:
        """Stop the batching loop (failing requests still queued) and the model thread."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        error = RuntimeError("InferenceServer closed")
        self._queue.fail_all(error)
        if self._swap is not None and not self._swap.future.done():
            self._swap.future.set_exception(error)
        self._executor.shutdown(wait=True)

    # -- the batching loop -----------------------------------------------------------------

    def _ensure_loop(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._wake = asyncio.Event()
            self._loop_task = asyncio.get_running_loop().create_task(self._batch_loop())

    async def _batch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._queue.drop_cancelled()
            if self._swap is not None and not self._queue.split_in_flight():
                swap, self._swap = self._swap, None
                try:
                    await loop.run_in_executor(
                        self._executor, self._evaluator.set_weights, swap.state_dict, swap.version
                    )
                except Exception as exc:  # a bad state dict fails the publisher, not the server
                    swap.future.set_exception(exc)
                else:
                    self._loaded = True
                    swap.future.set_result(None)
                continue
            if not self._queue or not self._loaded:
                self._wake.clear()
                await self._wake.wait()
                continue
            # Let the batch fill until it is full or the oldest request has waited long enough.
            deadline = self._queue.head.arrived + self.max_wait_s
            while self._queue.rows < self.max_batch:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            self._queue.drop_cancelled()
            if self._queue:
                await self._run_batch(loop, self._queue.take_batch())

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, pieces: list[Piece]) -> None:
        size = sum(stop - start for _, start, stop in pieces)
        first = pieces[0][0]
        evaluator = self._evaluator if first.model is None else self._models.get(first.model)
        if evaluator is None:  # unloaded while its requests waited
            for request, _, _ in pieces:
                self._queue.fail(request, ModelNotLoaded(first.model))
            return
        version = evaluator.version  # swaps run on the same thread, never during a batch
        try:
            logits, values = await loop.run_in_executor(
                self._executor, *self._staged(evaluator, pieces, size)
            )
        except Exception as exc:
            for request, _, _ in pieces:
                self._queue.fail(request, exc)
            return
        self._batches += 1
        self._rows += size
        self._recent.append((time.perf_counter(), size))
        deliver(pieces, logits, values, version)

    def _staged(self, evaluator: TorchEvaluator, pieces: list[Piece], size: int) -> tuple:
        """``(function, *arguments)`` that evaluates the rows of ``pieces``, copied into the
        staging rows unless one whole float request can be handed over as it is."""
        first, start, stop = pieces[0]
        whole = len(pieces) == 1 and (start, stop) == (0, first.rows)
        if whole and not (self._always_stage or first.packed):
            return evaluator, first.features  # one request: hand it over without a copy
        if self._packed_staging is not None and all(r.packed for r, _, _ in pieces):
            bits, cont = self._packed_staging
            offset = 0
            for request, start, stop in pieces:
                bits[offset : offset + stop - start] = request.bits[start:stop]  # type: ignore[index]
                cont[offset : offset + stop - start] = request.cont[start:stop]  # type: ignore[index]
                offset += stop - start
            return evaluator.evaluate_packed, bits[:size], cont[:size]
        offset = 0
        for request, start, stop in pieces:
            rows = self._staging[offset : offset + stop - start]
            if request.packed:
                unpack_into(request.bits[start:stop], request.cont[start:stop], rows)  # type: ignore[index]
            else:
                rows[:] = request.features[start:stop]  # type: ignore[index]
            offset += stop - start
        return evaluator, self._staging[:size]

    def _trim_recent(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()


def _state_dict(weights: Weights) -> Mapping[str, torch.Tensor]:
    return bytes_to_state_dict(weights) if isinstance(weights, bytes | bytearray) else weights
