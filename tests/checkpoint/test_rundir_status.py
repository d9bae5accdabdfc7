"""The run directory summary and ``python -m blobrl.status``."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from blobrl.checkpoint import (
    GameLog,
    IterationDone,
    Progress,
    RunDir,
    RunDirError,
)
from blobrl.checkpoint.status import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_dir(tmp_path, make_record) -> Path:
    """Iteration 1 finished (3 games) and checkpointed; iteration 2 has 2 of 5 games."""
    rd = RunDir(tmp_path / "run").create()
    rd.write_config({"run": {"name": "t"}, "replay": {"capacity": 1000}})
    with GameLog(rd.games_log) as glog:
        for i in range(3):
            glog.append_game(make_record(i, positions=30, iteration=1))
            glog.append_event(Progress(1, i + 1, 3, 30 * (i + 1), timestamp=100.0 + i))
        glog.append_event(IterationDone(1, 3))
        glog.append_game(make_record(3, positions=20, iteration=2))
        glog.append_event(Progress(2, 1, 5, 110, timestamp=200.0))
        glog.append_game(make_record(4, positions=25, iteration=2))  # after the last progress
    store = rd.store()
    store.save(1, {"model": {"w": torch.zeros(2)}, "elo_history": [[1, 12.5]]})
    store.save_best(1, {"w": torch.zeros(2)}, {"elo": 12.5})
    return rd.path


def run_status(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_summary_of_a_run_in_progress(run_dir):
    s = RunDir(run_dir).summary()
    assert (s.iteration, s.iterations_done) == (2, 1)
    assert (s.games_this_iteration, s.games_total_this_iteration) == (2, 5)
    assert s.games_completed == 5
    assert s.buffer_positions == 110 + 25
    assert (s.best_iteration, s.elo) == (1, 12.5)
    assert s.latest_checkpoint == "iter_000001.pt" and s.latest_checkpoint_iteration == 1
    assert s.last_update is not None and s.torn_tail_bytes == 0


def test_buffer_size_is_capped_by_the_configured_capacity(run_dir):
    rd = RunDir(run_dir)
    rd.write_config({"replay": {"capacity": 100}})
    assert rd.summary().buffer_positions == 100


def test_status_prints_a_table(run_dir):
    code, out, _ = run_status(str(run_dir))
    assert code == 0
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.splitlines())
    assert lines["iteration"] == "2"
    assert lines["games this iteration"] == "2 / 5"
    assert lines["games completed"] == "5"
    assert lines["replay buffer"] == "135 positions"
    assert lines["best model"] == "iteration 1"
    assert lines["Elo"] == "12.5"
    assert lines["latest checkpoint"] == "iter_000001.pt"


def test_status_json(run_dir):
    code, out, _ = run_status(str(run_dir), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["iteration"] == 2 and data["games_completed"] == 5 and data["elo"] == 12.5
    assert data["run_dir"] == str(run_dir)


def test_status_of_a_fresh_run_dir(tmp_path):
    RunDir(tmp_path).create()
    code, out, _ = run_status(str(tmp_path), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["iteration"] is None and data["games_completed"] == 0
    assert not RunDir(tmp_path).has_progress()


@pytest.mark.parametrize("make", ["missing", "file", "unrelated"])
def test_status_exits_2_naming_an_invalid_run_dir(tmp_path, make):
    path = tmp_path / "run"
    if make == "file":
        path.write_text("x")
    elif make == "unrelated":
        path.mkdir()
    code, out, err = run_status(str(path))
    assert code == 2 and out == "" and str(path) in err
    with pytest.raises(RunDirError):
        RunDir(path).summary()


def test_status_exits_2_for_a_damaged_checkpoint(run_dir):
    path = run_dir / "checkpoints" / "iter_000001.pt"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    code, _, err = run_status(str(run_dir))
    assert code == 2 and "iter_000001.pt: checksum mismatch" in err


def test_status_exits_2_for_a_log_damaged_before_its_end(run_dir):
    data = bytearray((run_dir / "games.log").read_bytes())
    data[40] ^= 0xFF
    (run_dir / "games.log").write_bytes(bytes(data))
    code, _, err = run_status(str(run_dir))
    assert code == 2 and "games.log: corrupt record at byte 8" in err


def test_status_reports_a_torn_tail(run_dir):
    with open(run_dir / "games.log", "ab") as f:
        f.write(b"\xb1\x0b\x01\x00garbage")
    code, out, _ = run_status(str(run_dir))
    assert code == 0 and "torn log tail" in out


def test_has_progress_and_reset(run_dir):
    rd = RunDir(run_dir)
    assert rd.has_progress()
    (run_dir / "notes.txt").write_text("mine")
    rd.reset()
    assert not rd.has_progress() and (run_dir / "notes.txt").exists()


def test_module_entry_point_starts_nothing_heavy(run_dir):
    probe = (
        "import sys, runpy; sys.argv = ['blobrl.status', sys.argv[1], '--json'];\n"
        "try: runpy.run_module('blobrl.status', run_name='__main__')\n"
        "except SystemExit as e: code = e.code\n"
        "heavy = [m for m in ('ray', 'numba') if m in sys.modules]\n"
        "print(code, heavy, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(run_dir)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.stderr.strip().endswith("0 []"), done.stderr
    assert json.loads(done.stdout)["games_completed"] == 5
    missing = subprocess.run(
        [sys.executable, "-m", "blobrl.status", str(run_dir / "nope")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert missing.returncode == 2 and "nope: run directory does not exist" in missing.stderr
