"""A run stopped through the control API says so and how to resume, and prints no error lines;
the API port probe counts a listening socket as busy but not the connections a stopped run left
in TIME_WAIT."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from blobrl.launch import runner

from .run_dirs import ROOT, logged_games, tiny_config_file


def test_the_port_probe_ignores_connections_left_in_time_wait():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first, as a stopping API does: TIME_WAIT on its port
    time.sleep(0.1)
    client.close()
    server.close()
    time.sleep(0.1)
    with socket.socket() as plain:
        try:
            plain.bind(("127.0.0.1", port))
        except OSError:
            pass  # busy to a bind without SO_REUSEADDR: the old probe's refusal
        else:
            pytest.skip("this system lets a plain bind reuse a port in TIME_WAIT")
    runner._check_port_free("127.0.0.1", port, "run.yaml")  # free: the API can bind it


def test_the_port_probe_still_refuses_a_listening_port():
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(runner.BadInput, match=rf"api\.port: 127\.0\.0\.1:{port} is not free"):
            runner._check_port_free("127.0.0.1", port, "run.yaml")


def final(trained: int, iterations: int = 2, games: int = 30) -> SimpleNamespace:
    return SimpleNamespace(
        trained_iterations=trained, iterations=iterations, iteration=trained + 1,
        games_played=games,
    )  # fmt: skip


def test_the_last_line_after_an_api_stop_says_stopped_and_how_to_resume():
    line = runner.outcome_line(
        final(0), stopped_by=None, config_path="c.yaml", run_dir=Path("runs/c")
    )
    assert line.startswith("stopped by POST /api/control/stop at iteration 1 with 30 games")
    assert "python -m blobrl.launch c.yaml --run-dir runs/c --resume" in line
    assert "finished" not in line


def test_the_last_line_of_a_finished_or_signalled_run():
    done = runner.outcome_line(final(2), stopped_by=None, config_path="c.yaml", run_dir=Path("r"))
    assert done == "finished: 30 games, 2 iterations; run directory r"
    signalled = runner.outcome_line(
        final(1), stopped_by="SIGTERM", config_path="c.yaml", run_dir=Path("r")
    )
    assert signalled.startswith("stopped by SIGTERM") and "resume with --resume" in signalled


def launch(config: Path, run_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "blobrl.launch", str(config), "--run-dir", str(run_dir),
         "--address", "local", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Printed after an API stop, these mean Ray Serve was left to die with the actors and Ray
# (its controller's ``graceful_shutdown`` call among them) instead of being shut down first.
NOISE = ("ERROR", "failed", "Traceback", "graceful_shutdown")
GAMES = 600


@pytest.mark.ray
@pytest.mark.timeout(600)
def test_an_api_stop_with_clients_connected_is_quiet_then_an_immediate_resume_on_the_same_port(
    tmp_path,
):
    import httpx

    port = free_port()
    # 600 games: a few seconds of play, so that the stop lands in the middle of them.
    phase = {"first": 1, "last": 2, "determinizations": 1, "simulations": 4,
             "games_per_iteration": GAMES}  # fmt: skip
    config = tiny_config_file(tmp_path, **{"api.port": port, "schedule.phases": [phase]})
    run = tmp_path / "run"
    proc = launch(config, run, "--iterations", "1")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    # A keep-alive client, connected until the run has exited: the API closes its side first.
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the run did not log 20 games in 300 s"
            try:
                if api.get("/api/status").json()["games_played"] >= 20:
                    break
            except (httpx.TransportError, KeyError, ValueError):
                pass
            time.sleep(0.5)
        before_stop = len(lines)
        assert api.post("/api/control/stop").json()["success"]
        proc.wait(timeout=180)
        reader.join(30)
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert "stopped by POST /api/control/stop" in out and "--resume" in out, out
    assert "finished:" not in out
    noisy = [line for line in lines[before_stop:] if any(word in line for word in NOISE)]
    assert not noisy, "".join(lines[before_stop:])
    before = logged_games(run)
    assert 0 < len(before) < GAMES

    resumed = launch(config, run, "--iterations", "1", "--resume")  # at once, the same port
    out, _ = resumed.communicate(timeout=400)
    assert resumed.returncode == 0, out
    assert "is not free" not in out and f"finished: {GAMES} games, 1 iterations" in out, out
    after = logged_games(run)
    assert after[: len(before)] == before
    assert len(after) == len(set(after)) == GAMES
