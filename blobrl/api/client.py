"""How the API talks to the Coordinator: an async protocol, and its Ray implementation."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from blobrl.actors.control import ControlResult, CoordinatorStatus

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

    async def _call(self, method: str, *args: Any, timeout_s: float | None = None) -> Any:
        import ray

        try:
            ref = getattr(self.handle, method).remote(*args)
            return await asyncio.wait_for(ref, timeout_s or self.timeout_s)
        except (ray.exceptions.RayActorError, TimeoutError) as exc:
            raise CoordinatorUnavailable(f"coordinator did not answer {method}: {exc}") from exc

    async def status(self) -> CoordinatorStatus:
        return await self._call("status")

    async def metrics(self) -> dict[str, Any]:
        return await self._call("metrics")

    async def config_view(self) -> dict[str, Any]:
        return await self._call("config_view")

    async def history(self) -> dict[str, list[dict[str, Any]]]:
        return await self._call("history")

    async def control(self, command: str) -> ControlResult:
        return await self._call("control", command)

    async def events_since(self, seq: int, timeout: float) -> tuple[list[dict[str, Any]], int]:
        return await self._call("events_since", seq, timeout, timeout_s=timeout + self.timeout_s)
