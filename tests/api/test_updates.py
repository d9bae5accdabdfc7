"""The WebSocket feed: a snapshot on connect, every event to every client, slow clients dropped
without holding up the others."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time

import websockets

from blobrl.api import create_app
from blobrl.api.updates import UpdateHub

from .conftest import make_app
from .fakes import FakeCoordinator
from .server import serving


def test_a_client_gets_a_status_snapshot_then_every_event(client, fake):
    with client.websocket_connect("/ws/updates") as ws:
        first = ws.receive_json()
        assert set(first) == {"type", "data", "timestamp"}
        assert first["type"] == "status" and first["data"]["state"] == "running"
        assert client.post("/api/control/pause").status_code == 200
        fake.emit("games", {"finished": 2, "games_played": 132})
        fake.emit("iteration", {"iteration": 3, "metrics": {"policy_loss": float("nan")}})
        received = [ws.receive_json() for _ in range(3)]
    assert [m["type"] for m in received] == ["state", "games", "iteration"]
    assert received[0]["data"] == {"state": "pausing", "previous": "running"}
    assert received[2]["data"]["metrics"]["policy_loss"] is None  # JSON has no NaN
    assert all(set(m) == {"type", "data", "timestamp"} for m in received)


class _SlowToAnswer(FakeCoordinator):
    """A Coordinator whose first answer to the events poll comes late."""

    def __init__(self):
        super().__init__()
        self.polls = 0

    async def events_since(self, seq, timeout):
        self.polls += 1
        if self.polls == 1:
            await asyncio.sleep(0.5)
        return await super().events_since(seq, timeout)


def test_an_event_right_after_the_snapshot_is_not_lost_while_the_feed_starts():
    from fastapi.testclient import TestClient

    fake = _SlowToAnswer()
    with TestClient(make_app(fake)) as client, client.websocket_connect("/ws/updates") as ws:
        assert ws.receive_json()["type"] == "status"
        fake.emit("phase", {"phase": 2})  # the moment the client has its snapshot
        hub = client.app.state.hub
        deadline = time.monotonic() + 5
        while hub.stats.events == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.stats.events == 1  # not skipped as older than the feed's start
        assert ws.receive_json()["data"] == {"phase": 2}


def test_twenty_clients_get_every_event_while_one_stops_reading(fake):
    # 128 x 64 KiB of incompressible text: more than a stalled socket's buffers hold, so the
    # send to the stalled client blocks and it has to be dropped.
    events, payload = 128, base64.b64encode(os.urandom(48 * 1024)).decode()
    hub = UpdateHub(fake, poll_timeout_s=0.2, send_timeout_s=1.0)
    app = create_app(fake, hub=hub)

    async def scenario(url: str, port: int) -> tuple[list[list[int]], float, int]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        stalled = await websockets.connect(url, sock=sock, max_queue=1, max_size=None)
        readers = [await websockets.connect(url, max_size=None) for _ in range(19)]
        for ws in [stalled, *readers]:
            assert json.loads(await ws.recv())["type"] == "status"
        stalled.transport.pause_reading()  # from here on it reads nothing

        async def read_all(ws) -> list[int]:
            got = []
            while len(got) < events:
                message = json.loads(await ws.recv())
                if message["type"] == "games":
                    got.append(message["data"]["n"])
            return got

        tasks = [asyncio.create_task(read_all(ws)) for ws in readers]
        start = time.monotonic()
        for n in range(events):
            await asyncio.to_thread(fake.emit, "games", {"n": n, "blob": payload})
        results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        elapsed = time.monotonic() - start
        deadline = time.monotonic() + 10
        while not hub.stats.dropped_clients and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        dropped_while_connected = hub.stats.dropped_clients
        for ws in readers:
            await ws.close()
        stalled.transport.abort()
        return results, elapsed, dropped_while_connected

    with serving(app) as base:
        url = base.replace("http", "ws") + "/ws/updates"
        results, elapsed, dropped = asyncio.run(scenario(url, int(base.rsplit(":", 1)[1])))
        deadline = time.monotonic() + 10
        while hub.stats.clients and time.monotonic() < deadline:
            time.sleep(0.05)
    assert all(got == list(range(events)) for got in results)
    assert elapsed < 30
    assert dropped == 1  # the stalled client was dropped; it held up nobody
    assert hub.stats.clients == 0 and hub.stats.connected == 20


def test_the_pump_stops_when_the_last_client_leaves_and_starts_again(client, fake):
    hub = client.app.state.hub
    with client.websocket_connect("/ws/updates") as ws:
        ws.receive_json()
        fake.emit("phase", {"phase": 2})
        assert ws.receive_json()["type"] == "phase"
    deadline = time.monotonic() + 5
    while hub._pump is not None and not hub._pump.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub._pump.done()
    fake.emit("phase", {"phase": 3})  # nobody listens: not delivered later
    with client.websocket_connect("/ws/updates") as ws:
        assert ws.receive_json()["type"] == "status"
        fake.emit("phase", {"phase": 4})
        assert ws.receive_json()["data"] == {"phase": 4}
