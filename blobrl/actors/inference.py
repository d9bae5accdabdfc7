"""The InferenceServer actor: :class:`blobrl.inference.InferenceServer` behind ``ray.remote``,
and its client over a Ray handle.

The server's request methods are coroutines, so ``ray.remote(InferenceServer)`` is an async
actor that answers many calls at once (:data:`InferenceServerActor`, with room for
:data:`MAX_CONCURRENCY` in flight). :class:`RemoteEvaluator` is the
:class:`~blobrl.inference.InferenceClient` a search in another process uses to reach it, through
:class:`RayLink`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

import numpy as np
import ray

from blobrl.inference import Answer, InferenceClient, InferenceServer, NoAnswer, ServerLink
from blobrl.inference.channel import AVAILABLE as CHANNELS
from blobrl.inference.channel import ChannelLink, ChannelSpec

# Every concurrent evaluate call holds one slot; self-play actors have one in flight each.
MAX_CONCURRENCY = 1000
ATTACH_TIMEOUT_S = 30.0  # a server that is restarting answers once it is up
InferenceServerActor = ray.remote(max_concurrency=MAX_CONCURRENCY)(InferenceServer)  # type: ignore[call-overload]


class RayLink:
    """A :class:`~blobrl.inference.ServerLink` over an :data:`InferenceServerActor` handle (or
    any actor with its ``evaluate_packed`` and ``get_version``); requests are ObjectRefs.

    Ray retries a request whose server died (``max_task_retries``); :meth:`gather` gives up
    after its timeout so the client can send the request again."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def version(self) -> int:
        return int(ray.get(self.handle.get_version.remote()))

    def send(self, bits: np.ndarray, cont: np.ndarray, model: str | None) -> Any:
        args = (bits, cont) if model is None else (bits, cont, model)
        return self.handle.evaluate_packed.remote(*args)

    def future(self, pending: Any) -> Future[Any]:
        """Done once the request's answer (or its error) is in."""
        return pending.future()

    def gather(self, pending: list[Any], timeout_s: float) -> list[Answer]:
        try:
            return ray.get(pending, timeout=timeout_s)
        except ray.exceptions.GetTimeoutError as exc:
            raise NoAnswer(f"no answer in {timeout_s} s") from exc

    def cancel(self, pending: list[Any]) -> None:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref)


class RemoteEvaluator(InferenceClient):
    """``evaluator(features) -> (logits, values)`` through an :data:`InferenceServerActor`
    ``handle``: an :class:`~blobrl.inference.InferenceClient` over a :class:`RayLink`, or, with
    ``channel`` (the default) and the server on this machine, over a shared-memory
    :class:`~blobrl.inference.channel.ChannelLink` that falls back on the RayLink."""

    def __init__(
        self,
        handle: Any,
        *,
        model: str | None = None,
        reload: Callable[[], None] | None = None,
        timeout_s: float = 30.0,
        channel: bool = True,
    ) -> None:
        link: ServerLink = RayLink(handle)
        if channel and CHANNELS:
            link = ChannelLink(link, attach=partial(_attach, handle), model=model)
        super().__init__(link, model=model, reload=reload, timeout_s=timeout_s)
        self.handle = handle

    def close(self) -> None:
        """Close the shared-memory channel, if one is attached (requests go through Ray after)."""
        if isinstance(self.link, ChannelLink):
            self.link.close()


def _attach(handle: Any, spec: ChannelSpec) -> int | None:
    """Ask the server behind ``handle`` to map a channel (None from a server that cannot)."""
    return ray.get(handle.attach_channel.remote(spec), timeout=ATTACH_TIMEOUT_S)
