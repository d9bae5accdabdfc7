"""A real HTTP server (uvicorn in a thread) for tests that need real sockets."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(app, *, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 for the duration of the block; yields the base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets",
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def start_real_run(
    run_dir, run_id: str, *, iterations: int, games_per_iteration: int, evaluation=None
):
    """A tiny run on the real local Ray (one self-play actor), started: ``(system, running)``,
    where ``running`` is the pending answer of the Coordinator's ``run``. ``evaluation``
    replaces the tiny config's section (arenas of 2 deals, no gauntlet)."""
    from actors.test_coordinator import tiny_config

    from blobrl.actors.compose import Resources, build
    from blobrl.actors.journal import RunJournalFactory
    from blobrl.remote import call

    phase = {"first": 1, "last": iterations, "determinizations": 1, "simulations": 3,
             "games_per_iteration": games_per_iteration}  # fmt: skip
    config = tiny_config(
        iterations,
        schedule={"phases": [phase]},
        selfplay={"actors": 1, "games_in_flight": 4},
        **({"evaluation": evaluation} if evaluation is not None else {}),
    )
    system = build(
        config,
        RunJournalFactory(str(run_dir), fsync_interval_s=0.2),
        remote=True,
        resources=Resources(1, 0),
        run_id=run_id,
    )
    return system, call(system.coordinator, "run")
