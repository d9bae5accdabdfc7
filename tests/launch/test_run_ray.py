"""Real runs: `python -m blobrl.launch` as a process on an embedded local Ray.

Each test starts its own Ray (``--address local``), so they do not depend on (or join) any
other Ray on the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from blobrl.checkpoint import CheckpointStore, iter_log

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "configs" / "smoke.yaml"


GAMES = 200  # an iteration's games: about 20 s of self-play, time to stop it in the middle


def smoke_config(tmp_path: Path, **changes) -> Path:
    """The smoke config, made quick: 200 games an iteration, a short training, and an arena and
    a gauntlet (after the last iteration) of a few deals at a cheap search, which is all these
    tests need from it. (The smoke config's own gauntlet, 100 deals against ismcts:1000, takes
    longer than all the rest.)"""
    config = yaml.safe_load(SMOKE.read_text())
    for phase in config["schedule"]["phases"]:
        phase["games_per_iteration"] = GAMES
    config["learner"]["replay_ratio"] = 0.65  # ~13 steps of 256 per 200 games
    config["replay"]["min_positions_to_train"] = 1000
    config["evaluation"].update(
        arena_deals=4, gauntlet_deals=2, gauntlet_ismcts=[8],
        search={"determinizations": 1, "simulations": 4},
    )  # fmt: skip
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    config.setdefault("api", {})["port"] = 0  # any free port: runs never collide
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def launch(config: Path, run_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "blobrl.launch", str(config), "--run-dir", str(run_dir),
         "--address", "local", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def logged_games(run_dir: Path) -> list[tuple[int, int]]:
    games = []
    for entry in iter_log(run_dir / "games.log", meta_only=True):
        if entry.is_game:
            meta = entry.data["meta"]
            games.append((meta["iteration"], meta["game_id"]))
    return games


def status(run_dir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "blobrl.status", str(run_dir), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def wait_for_games(run_dir: Path, count: int, proc: subprocess.Popen, timeout: float = 300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        if (run_dir / "games.log").exists() and len(logged_games(run_dir)) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} games logged in {timeout} s")


def stop(proc: subprocess.Popen, how: str) -> tuple[int, str, float]:
    """Send ``how`` (SIGTERM or SIGKILL): (exit code, output, seconds until it exited)."""
    sent = time.monotonic()
    proc.send_signal(getattr(signal, how))
    code, out = finish(proc, timeout=120)
    return code, out, time.monotonic() - sent


def test_smoke_stopped_by_sigterm_then_killed_resumes_exactly_through_all_six_actors(tmp_path):
    """One run, three launches (each a Ray of its own): SIGTERM mid self-play in iteration 1,
    a resume that is killed with SIGKILL mid self-play in iteration 2, and a resume that
    finishes; every game is logged once and in order across them."""
    # Few games in flight (2 actors x 2 groups x 8), whatever the defaults: the games in flight
    # move in lock-step and finish in waves, and with the whole iteration in flight at once its
    # 200 games finished in one wave, before the kills below, which must land in the middle.
    config = smoke_config(
        tmp_path,
        **{"inference.placement": "server", "selfplay.game_groups": 2,
           "selfplay.games_in_flight": 8},
    )  # fmt: skip
    run = tmp_path / "run"
    proc = launch(config, run, "--iterations", "2")
    wait_for_games(run, 40, proc)
    code, out, took = stop(proc, "SIGTERM")
    assert code == 0, out
    assert "stopped by SIGTERM" in out
    assert took < 30, f"clean stop took {took:.1f} s"
    before = logged_games(run)
    assert 0 < len(before) < GAMES and len(before) == len(set(before))

    proc = launch(config, run, "--iterations", "2", "--resume")
    wait_for_games(run, GAMES + 40, proc)
    code, out, _ = stop(proc, "SIGKILL")
    assert code == -signal.SIGKILL
    killed = logged_games(run)
    assert killed[: len(before)] == before  # the first resume lost and replayed nothing
    assert GAMES < len(killed) < 2 * GAMES and len(killed) == len(set(killed))

    # kill -9 leaves the embedded Ray's processes behind for a few seconds, still holding the
    # game log: the resume, launched at once, waits for them to let go of it.
    code, out = finish(launch(config, run, "--iterations", "2", "--resume"))
    assert code == 0, out
    assert "resumed" in out
    assert "Ray dashboard: http" in out
    assert "Control API and dashboard: http://127.0.0.1:" in out
    assert "inference server on cpu" in out
    assert f"finished: {2 * GAMES} games, 2 iterations" in out, out
    after = logged_games(run)
    assert after[: len(killed)] == killed  # nothing recorded was lost or replayed
    assert len(after) == len(set(after)) == 2 * GAMES
    store = CheckpointStore(run)
    assert {1, 2} <= set(store.iterations())
    latest = store.load()
    assert latest.iteration == 2 and latest.payload["weights_version"] == 2
    assert len(latest.payload["loss_history"]) == 2
    summary = status(run)
    assert summary["iterations_done"] == 2 and summary["games_completed"] == 2 * GAMES
    assert summary["buffer_positions"] > 2 * GAMES  # the replay buffer filled from every game
