"""``python -m blobrl.status RUN_DIR --repair``: a game log damaged before its end is cut back to
its last good record, after saying what that drops, and only once confirmed."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from blobrl.checkpoint import GameLog, Progress, RunDir, find_damage, iter_log
from blobrl.checkpoint.status import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def damaged(tmp_path, make_record) -> tuple[Path, int]:
    """A run directory whose log holds 6 games and 6 events, the third game's record damaged:
    (run directory, byte offset of the damaged record)."""
    rd = RunDir(tmp_path / "run").create()
    offsets = []
    with GameLog(rd.games_log) as glog:
        for i in range(6):
            offsets.append(glog.append_game(make_record(i, positions=10, iteration=1 + i // 3)))
            glog.append_event(Progress(1 + i // 3, i % 3 + 1, 3, 10 * (i + 1)))
    data = bytearray(rd.games_log.read_bytes())
    data[offsets[2] + 20] ^= 0xFF
    rd.games_log.write_bytes(bytes(data))
    return rd.path, offsets[2]


def run(*args: str, ask=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err, ask=ask)
    return code, out.getvalue(), err.getvalue()


def test_status_of_a_damaged_log_names_the_repair_command(damaged):
    run_dir, offset = damaged
    code, _, err = run(str(run_dir))
    assert code == 2 and f"corrupt record at byte {offset}" in err
    assert f"python -m blobrl.status {run_dir} --repair" in err


def test_repair_says_what_it_drops_and_changes_nothing_unconfirmed(damaged):
    run_dir, offset = damaged
    before = (run_dir / "games.log").read_bytes()
    code, out, err = run(str(run_dir), "--repair")
    assert code == 2 and "nothing changed; confirm with --yes" in err
    assert f"bad record at byte {offset:,} (checksum mismatch)" in out
    assert "keeps:  bytes 0" in out and "2 games in 4 records, through iteration 1" in out
    assert f"drops:  {len(before) - offset:,} bytes" in out
    assert "the 7 intact records after it (3 games)" in out
    assert (run_dir / "games.log").read_bytes() == before
    assert not list(run_dir.glob("games.log.damaged-*"))


def test_repair_asks_and_a_no_changes_nothing(damaged):
    run_dir, _ = damaged
    before = (run_dir / "games.log").read_bytes()
    questions = []
    code, _, _ = run(str(run_dir), "--repair", ask=lambda q: questions.append(q) or "n")
    assert code == 2 and questions and "[y/N]" in questions[0]
    assert (run_dir / "games.log").read_bytes() == before


@pytest.mark.parametrize("confirm", ["--yes", "answer y"])
def test_a_confirmed_repair_cuts_the_log_at_its_last_good_record(damaged, confirm):
    run_dir, offset = damaged
    before = (run_dir / "games.log").read_bytes()
    flags = ["--yes"] if confirm == "--yes" else []
    code, out, _ = run(str(run_dir), "--repair", *flags, ask=lambda q: "y")
    assert code == 0 and f"truncated to {offset:,} bytes" in out
    assert (run_dir / "games.log").read_bytes() == before[:offset]
    assert (run_dir / f"games.log.damaged-{offset}").read_bytes() == before[offset:]
    games = [e.data["meta"]["game_id"] for e in iter_log(run_dir / "games.log") if e.is_game]
    assert games == [0, 1]
    assert run(str(run_dir))[0] == 0  # status reads it again
    code, out, _ = run(str(run_dir), "--repair")
    assert code == 0 and "nothing to repair" in out


def test_a_torn_tail_is_reported_as_what_resume_drops_anyway(tmp_path, make_record):
    rd = RunDir(tmp_path / "run").create()
    with GameLog(rd.games_log) as glog:
        glog.append_game(make_record(0))
    with open(rd.games_log, "ab") as f:
        f.write(b"\xb1\x0b\x01\x00torn")
    damage = find_damage(rd.games_log)
    assert damage is not None and damage.torn_tail and damage.kept_games == 1
    code, out, _ = run(str(rd.path), "--repair", "--yes")
    assert code == 0 and "a torn last record, which --resume drops by itself" in out


def test_repair_refuses_a_log_a_run_is_writing(damaged):
    run_dir, _ = damaged
    run(str(run_dir), "--repair", "--yes")
    with GameLog(run_dir / "games.log"):
        code, _, err = run(str(run_dir), "--repair", "--yes")
    assert code == 2 and "already open for writing by another process" in err


def test_repair_of_a_missing_run_directory_exits_2(tmp_path):
    code, _, err = run(str(tmp_path / "nowhere"), "--repair")
    assert code == 2 and "nowhere: run directory does not exist" in err


def test_the_repair_command_refuses_without_a_terminal_or_yes(damaged):
    run_dir, _ = damaged
    done = subprocess.run(
        [sys.executable, "-m", "blobrl.status", str(run_dir), "--repair"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "confirm with --yes" in done.stderr
    assert "Traceback" not in done.stderr
