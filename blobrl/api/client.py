"""How the API talks to the Coordinator: an async protocol, and its Ray implementation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from blobrl.run import ControlResult, CoordinatorPort, CoordinatorStatus

P = ParamSpec("P")
R = TypeVar("R")

CALL_TIMEOUT_S = 15.0


class CoordinatorUnavailable(RuntimeError):
    """The Coordinator did not answer (gone, crashed or too slow); the API answers 503."""


class CoordinatorClient(Protocol):
    """What the API needs from the Coordinator (see blobrl.actors.coordinator)."""

    async def status(self) -> CoordinatorStatus: ...
    async def metrics(self) -> dict[str, Any]: ...
    async def config_view(self) -> dict[str, Any]: ...
    async def history(self) -> dict[str, list[dict[str, Any]]]: ...
    async def control(self, command: str) -> ControlResult: ...
    async def events_since(self, seq: int, timeout: float) -> tuple[list[dict[str, Any]], int]: ...


class RayCoordinatorClient:
    """:class:`CoordinatorClient` over a Ray actor handle of the Coordinator."""

    def __init__(self, handle: Any, *, timeout_s: float = CALL_TIMEOUT_S):
        self.handle = handle
        self.timeout_s = timeout_s

    async def _call(
        self,
        timeout_s: float,
        method: Callable[Concatenate[CoordinatorPort, P], R],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Call ``method`` (of :class:`~blobrl.run.CoordinatorPort`) on the actor, waiting at
        most ``timeout_s``."""
        import ray

        name = method.__name__
        try:
            ref = getattr(self.handle, name).remote(*args, **kwargs)
            return await asyncio.wait_for(ref, timeout_s)
        except (ray.exceptions.RayActorError, TimeoutError) as exc:
            raise CoordinatorUnavailable(f"coordinator did not answer {name}: {exc}") from exc

    async def status(self) -> CoordinatorStatus:
        return await self._call(self.timeout_s, CoordinatorPort.status)

    async def metrics(self) -> dict[str, Any]:
        return await self._call(self.timeout_s, CoordinatorPort.metrics)

    async def config_view(self) -> dict[str, Any]:
        return await self._call(self.timeout_s, CoordinatorPort.config_view)

    async def history(self) -> dict[str, list[dict[str, Any]]]:
        return await self._call(self.timeout_s, CoordinatorPort.history)

    async def control(self, command: str) -> ControlResult:
        return await self._call(self.timeout_s, CoordinatorPort.control, command)

    async def events_since(self, seq: int, timeout: float) -> tuple[list[dict[str, Any]], int]:
        wait = timeout + self.timeout_s
        return await self._call(wait, CoordinatorPort.events_since, seq, timeout)
