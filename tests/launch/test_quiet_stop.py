"""A stop prints no error lines: Ray Serve is shut down before the actors and Ray, and waited
for, so its controller's ``graceful_shutdown`` call is never left to die with it."""

from __future__ import annotations

import threading
import time

import pytest

from .run_dirs import tiny_config_file
from .test_stop_and_port import free_port, launch

NOISE = ("ERROR", "failed", "Traceback", "graceful_shutdown")


@pytest.mark.ray
@pytest.mark.timeout(600)
def test_an_api_stop_prints_no_error_lines(tmp_path):
    import httpx

    port = free_port()
    phase = {"first": 1, "last": 2, "determinizations": 1, "simulations": 4,
             "games_per_iteration": 300}  # fmt: skip
    config = tiny_config_file(tmp_path, **{"api.port": port, "schedule.phases": [phase]})
    proc = launch(config, tmp_path / "run", "--iterations", "1")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the run did not play 10 games in 300 s"
            try:
                if api.get("/api/status").json()["games_played"] >= 10:
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
    assert "stopped by POST /api/control/stop" in out, out
    after = lines[before_stop:]
    noisy = [line for line in after if any(word in line for word in NOISE)]
    assert not noisy, "".join(after)
