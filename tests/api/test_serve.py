"""The API on a real Ray Serve over a real running Coordinator: status, pause holding self-play,
resume, stop ending the run, and the WebSocket feed through Serve."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from blobrl.api import start_api
from blobrl.config import ApiConfig

from .conftest import TOKEN
from .server import start_real_run

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def wait_until(predicate, timeout=120.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def collect(url: str, into: list[dict], stop: asyncio.Event) -> None:
    async with websockets.connect(url) as ws:
        while not stop.is_set():
            try:
                into.append(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
            except TimeoutError:
                continue


def test_control_and_updates_through_serve_on_a_real_run(tmp_path, serve_port):
    system, running = start_real_run(tmp_path, "api-serve", iterations=2, games_per_iteration=200)
    port = serve_port
    url = start_api("api-serve-coordinator", ApiConfig(port=port, token=TOKEN))
    assert url == f"http://127.0.0.1:{port}/"
    api = httpx.Client(base_url=url, timeout=30)
    messages: list[dict] = []
    stop_listening = asyncio.Event()
    loop = asyncio.new_event_loop()
    ws_url = f"ws://127.0.0.1:{port}/ws/updates?token={TOKEN}"
    import threading

    listener = threading.Thread(
        target=loop.run_until_complete, args=(collect(ws_url, messages, stop_listening),)
    )
    listener.start()
    try:
        status = lambda: api.get("/api/status").json()  # noqa: E731
        assert status()["state"] == "running"
        assert "plotly.min.js" in api.get("/").text
        wait_until(lambda: status()["games_played"] >= 4, what="first games")
        assert api.post("/api/control/pause").status_code == 401  # no token

        answer = api.post("/api/control/pause", headers=AUTH)
        assert answer.status_code == 200 and answer.json()["state"] == "pausing"
        wait_until(lambda: status()["state"] == "paused", timeout=60, what="paused")
        held = status()["games_played"]
        time.sleep(2.0)
        assert status()["games_played"] == held  # self-play really holds
        refused = api.post("/api/control/pause", headers=AUTH)
        assert refused.status_code == 409 and refused.json()["state"] == "paused"

        assert api.post("/api/control/resume", headers=AUTH).json()["state"] == "running"
        wait_until(lambda: status()["games_played"] > held, what="play after resume")

        assert api.post("/api/control/stop", headers=AUTH).json()["state"] == "stopping"
        final = running.result(timeout=180)
        assert final.state == "stopped" and final.error is None
        assert status()["state"] == "stopped"
        wait_until(
            lambda: any(
                m["data"].get("state") == "stopped" for m in messages if m["type"] == "state"
            ),
            timeout=30,
            what="the stopped event on the WebSocket",
        )
    finally:
        loop.call_soon_threadsafe(stop_listening.set)
        listener.join(30)
        api.close()
        system.shutdown()
    assert messages[0]["type"] == "status"
    states = [m["data"]["state"] for m in messages if m["type"] == "state"]
    assert states[:3] == ["pausing", "paused", "running"]
    assert states[-1] == "stopped"
    assert any(m["type"] == "games" for m in messages)
