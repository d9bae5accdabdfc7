"""WebSocket fan-out: one long poll of the Coordinator's events per app, a bounded queue per
client.

The pump never waits on a client: it puts each event on every client's queue, and a full queue
loses its oldest message. Each client has a sender of its own; a client that does not take a
message within ``send_timeout_s`` is dropped, so a slow or dead client never holds up the others
or the Coordinator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from blobrl.api.client import CoordinatorClient

log = logging.getLogger(__name__)

# ``events_since`` with a sequence number no event reaches: no events, only the newest seq.
_NEWEST = sys.maxsize


@dataclass(eq=False)
class Subscriber:
    """One connected client: the messages it has still to receive."""

    queue: asyncio.Queue[str]
    dropped: int = 0

    def offer(self, message: str) -> None:
        """Queue ``message``; when full, lose the oldest one instead of waiting."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(message)


@dataclass
class HubStats:
    clients: int = 0
    connected: int = 0
    dropped_clients: int = 0
    dropped_messages: int = 0
    events: int = 0
    poll_errors: int = 0


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def encode(kind: str, data: dict[str, Any], timestamp: float) -> str:
    """A WebSocket message: ``{type, data, timestamp}`` as JSON text."""
    return json.dumps({"type": kind, "data": _json_safe(data), "timestamp": timestamp})


class UpdateHub:
    """Pushes the Coordinator's events to every connected WebSocket client."""

    def __init__(
        self,
        client: CoordinatorClient,
        *,
        queue_size: int = 256,
        poll_timeout_s: float = 1.0,
        send_timeout_s: float = 10.0,
        retry_s: float = 1.0,
    ):
        self.client = client
        self.queue_size = queue_size
        self.poll_timeout_s = poll_timeout_s
        self.send_timeout_s = send_timeout_s
        self.retry_s = retry_s
        self.stats = HubStats()
        self._subscribers: set[Subscriber] = set()
        self._pump: asyncio.Task[None] | None = None
        self._pump_ready: asyncio.Event | None = None  # set once the pump knows where it starts

    # ---- one client ---------------------------------------------------------------------------
    async def serve(self, websocket: WebSocket) -> None:
        """Accept ``websocket``, send a status snapshot, then every event until it goes away."""
        await websocket.accept()
        subscriber = Subscriber(asyncio.Queue(self.queue_size))
        self._subscribers.add(subscriber)
        self.stats.connected += 1
        self.stats.clients = len(self._subscribers)
        ready = self._ensure_pump()
        try:
            # Subscribed, and the pump's first event number fixed, before the snapshot is taken:
            # no event between the two is lost. (A Coordinator that does not answer delays the
            # snapshot by at most a poll.)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), self.poll_timeout_s + self.retry_s)
            await websocket.send_text(await self._snapshot())
            sender = asyncio.create_task(self._send(websocket, subscriber))
            receiver = asyncio.create_task(self._receive(websocket))
            done, pending = await asyncio.wait(
                {sender, receiver}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if sender in done and sender.exception() is None and sender.result() is False:
                self.stats.dropped_clients += 1
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            self._subscribers.discard(subscriber)
            self.stats.clients = len(self._subscribers)
            self.stats.dropped_messages += subscriber.dropped
            with contextlib.suppress(Exception):
                await websocket.close()

    async def _snapshot(self) -> str:
        try:
            status = await self.client.status()
        except Exception as exc:
            return encode("error", {"message": f"status not available: {exc}"}, time.time())
        return encode("status", asdict(status), status.timestamp)

    async def _send(self, websocket: WebSocket, subscriber: Subscriber) -> bool:
        """Forward queued messages; False when the client took too long and is dropped."""
        while True:
            message = await subscriber.queue.get()
            try:
                await asyncio.wait_for(websocket.send_text(message), self.send_timeout_s)
            except TimeoutError:
                log.info("dropping a WebSocket client that stopped reading")
                return False
            except (WebSocketDisconnect, RuntimeError, OSError):
                return True

    @staticmethod
    async def _receive(websocket: WebSocket) -> None:
        """Wait for the client to leave (what it sends is ignored)."""
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return

    # ---- the pump -----------------------------------------------------------------------------
    def _ensure_pump(self) -> asyncio.Event:
        """Start the pump unless it runs; the event is set once it knows its first event."""
        if self._pump is None or self._pump.done() or self._pump_ready is None:
            self._pump_ready = asyncio.Event()
            self._pump = asyncio.create_task(
                self._run_pump(self._pump_ready), name="blobrl-updates"
            )
        return self._pump_ready

    async def _run_pump(self, ready: asyncio.Event) -> None:
        """Long-poll the Coordinator while anyone listens; events go to every queue."""
        seq: int | None = None
        while self._subscribers:
            try:
                if seq is None:
                    _, seq = await self.client.events_since(_NEWEST, 0.0)
                    ready.set()
                events, newest = await self.client.events_since(seq, self.poll_timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.poll_errors += 1
                log.warning("coordinator events not available", exc_info=True)
                await asyncio.sleep(self.retry_s)
                continue
            for event in events:
                self.publish(encode(event["type"], event["data"], event["timestamp"]))
            self.stats.events += len(events)
            seq = newest  # lower when the Coordinator was replaced

    def publish(self, message: str) -> None:
        for subscriber in list(self._subscribers):
            subscriber.offer(message)

    async def close(self) -> None:
        """Stop the pump (the app is shutting down)."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
            self._pump = None
