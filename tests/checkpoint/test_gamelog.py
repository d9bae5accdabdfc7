"""The game log: round trips, kill -9 safety, torn tails dropped, damage before the end refused."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobrl.bench.gamelog import typical_record
from blobrl.checkpoint import (
    GameLog,
    GameLogError,
    IterationDone,
    Progress,
    check_not_in_use,
    iter_log,
    read_log,
    record_from_msgpack,
    record_to_msgpack,
    repair_log,
)
from blobrl.checkpoint.gamelog import FILE_MAGIC, HEADER_SIZE

ARRAYS = ("actions", "players", "feature_bits", "feature_cont", "legal", "policy", "scores")
SCALARS = ("seed", "num_players", "num_cards", "weight_version", "determinizations",
           "simulations", "iteration", "game_id")  # fmt: skip


def assert_same_record(a, b) -> None:
    for name in SCALARS:
        assert getattr(a, name) == getattr(b, name), name
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("positions", [0, 1, 30, 100])
def test_record_survives_msgpack_round_trip_exactly(make_record, positions):
    record = make_record(7, positions=positions, iteration=12)
    back = record_from_msgpack(record_to_msgpack(record))
    assert_same_record(record, back)
    assert back.policy.flags.writeable  # decoded arrays are owned copies


def test_log_replays_games_and_events_in_order(tmp_path, make_record):
    path = tmp_path / "games.log"
    with GameLog(path) as glog:
        glog.append_game(make_record(0))
        glog.append_event(Progress(iteration=1, games_completed=1, games_total=3, buffer_size=30))
        glog.append_game(make_record(1, positions=12))
        glog.append_event(IterationDone(iteration=1, games=2))
        glog.append_event({"type": "note", "text": "hello"})
    contents = read_log(path)
    assert [g.game_id for g in contents.games] == [0, 1]
    assert_same_record(contents.games[1], make_record(1, positions=12))
    assert [e["type"] for e in contents.events] == ["progress", "iteration_done", "note"]
    assert contents.last_progress is not None and contents.last_progress.games_total == 3
    assert contents.positions_read == 42 and not contents.torn
    assert contents.good_bytes == path.stat().st_size


def test_events_need_a_type_other_than_game(tmp_path):
    with GameLog(tmp_path / "games.log") as glog:
        for bad in ({}, {"type": ""}, {"type": "game"}, {"type": 3}):
            with pytest.raises(ValueError):
                glog.append_event(bad)


def test_meta_only_scan_skips_arrays(tmp_path, make_record):
    path = tmp_path / "games.log"
    with GameLog(path) as glog:
        glog.append_game(make_record(3, positions=9))
    (entry,) = list(iter_log(path, meta_only=True))
    assert entry.data["meta"]["positions"] == 9 and "arrays" not in entry.data
    with pytest.raises(ValueError):
        entry.record()


@pytest.mark.parametrize("interval", [0.0, 0.01, 1.0])
def test_every_fsync_cadence_writes_everything(tmp_path, make_record, interval):
    path = tmp_path / "games.log"
    with GameLog(path, fsync_interval_s=interval) as glog:
        for i in range(5):
            glog.append_game(make_record(i, positions=3))
            if interval:
                time.sleep(min(interval, 0.02))
        glog.flush()
    assert [g.game_id for g in read_log(path).games] == list(range(5))


def test_second_writer_is_refused(tmp_path):
    path = tmp_path / "games.log"
    with GameLog(path), pytest.raises(GameLogError, match="already open for writing"):
        GameLog(path)


def test_in_use_check_waits_for_the_writer_to_let_go_and_no_longer(tmp_path):
    path = tmp_path / "games.log"
    check_not_in_use(path)  # a missing log is not in use
    writer = GameLog(path)
    waits = []
    started = time.monotonic()
    with pytest.raises(GameLogError, match="already open for writing"):
        check_not_in_use(path, wait_s=0.3, on_wait=lambda: waits.append(1))
    assert 0.3 <= time.monotonic() - started < 5 and waits == [1]
    threading.Timer(0.5, writer.close).start()
    check_not_in_use(path, wait_s=30)  # returns once the writer has closed the log
    check_not_in_use(path)
    GameLog(path).close()  # and the log is free for a new writer


def test_not_a_game_log_is_refused(tmp_path):
    path = tmp_path / "games.log"
    path.write_bytes(b"something else entirely")
    with pytest.raises(GameLogError, match="not a blobrl game log"):
        read_log(path)


def test_missing_log_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(GameLogError, match=r"games\.log: game log not found"):
        read_log(tmp_path / "games.log")


# --- damage -------------------------------------------------------------------------------------


def write_sample_log(path: Path) -> list[int]:
    """A log of games and events; returns the byte offset where each record ends."""
    ends = []
    with GameLog(path, fsync_interval_s=0) as glog:
        for i in range(4):
            glog.append_game(typical_record(i, positions=2 + 3 * i))
            ends.append(glog.size)
            glog.append_event(Progress(i, i + 1, 4, 10 * i, timestamp=float(i)))
            ends.append(glog.size)
    return ends


@pytest.fixture(scope="module")
def sample_log():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "games.log"
        ends = write_sample_log(path)
        yield path.read_bytes(), ends


def entry_keys(contents) -> list[tuple]:
    return [("game", g.game_id) for g in contents.games] + [
        ("progress", e["iteration"]) for e in contents.events
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_log_cut_anywhere_reads_as_a_prefix_and_resumes(sample_log, data):
    full, ends = sample_log
    cut = data.draw(st.integers(0, len(full)))
    good = max([e for e in ends if e <= cut], default=len(FILE_MAGIC) if cut >= 8 else 0)
    complete = sum(e <= cut for e in ends)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "games.log"
        path.write_bytes(full[:cut])
        torn = cut not in (0, good)
        with _capture_warnings() as records:
            contents = read_log(path)
        assert len(contents.games) + len(contents.events) == complete
        assert contents.games_read == (complete + 1) // 2
        assert [g.game_id for g in contents.games] == list(range((complete + 1) // 2))
        assert contents.good_bytes == (good if cut else 0)
        assert contents.torn == torn
        assert bool(records) == torn
        if torn:
            assert str(path) in records[0] and f"byte {good}" in records[0]
        # Resuming truncates the tail and appends after the last good record.
        glog, resumed = GameLog.open_for_resume(path, fsync_interval_s=0)
        with glog:
            glog.append_event({"type": "note", "n": cut})
        after = read_log(path)
        assert not after.torn
        assert len(after.games) == len(resumed.games) and after.events[-1] == {
            "type": "note",
            "n": cut,
        }


class _capture_warnings:
    def __enter__(self) -> list[str]:
        self.messages: list[str] = []
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = lambda rec: self.messages.append(rec.getMessage())  # type: ignore[method-assign]
        logging.getLogger("blobrl.checkpoint.gamelog").addHandler(self.handler)
        return self.messages

    def __exit__(self, *exc) -> None:
        logging.getLogger("blobrl.checkpoint.gamelog").removeHandler(self.handler)


@pytest.mark.parametrize("where", ["magic", "length", "payload", "crc"])
def test_damaged_middle_record_is_an_error_not_skipped(tmp_path, sample_log, where):
    full, ends = sample_log
    start = ends[2]  # the second game's record
    offset = {"magic": 0, "length": 4, "crc": 9, "payload": HEADER_SIZE + 40}[where]
    damaged = bytearray(full)
    damaged[start + offset] ^= 0x5A
    path = tmp_path / "games.log"
    path.write_bytes(bytes(damaged))
    with pytest.raises(GameLogError, match=rf"games.log: corrupt record at byte {start}"):
        read_log(path)
    with pytest.raises(GameLogError):
        GameLog(path)
    assert path.read_bytes() == bytes(damaged)  # nothing was truncated


def test_damaged_last_record_is_dropped_with_a_warning(tmp_path, sample_log, caplog):
    full, ends = sample_log
    damaged = bytearray(full)
    damaged[ends[-2] + HEADER_SIZE + 3] ^= 0xFF
    path = tmp_path / "games.log"
    path.write_bytes(bytes(damaged))
    with caplog.at_level(logging.WARNING):
        contents = read_log(path)
    assert contents.good_bytes == ends[-2] and contents.dropped_bytes == len(full) - ends[-2]
    assert "checksum mismatch" in caplog.text and f"byte {ends[-2]}" in caplog.text


def test_zeroed_tail_after_a_machine_crash_is_dropped(tmp_path, sample_log):
    # A filesystem may extend the file before the data blocks land: zeros at the end.
    full, _ = sample_log
    path = tmp_path / "games.log"
    path.write_bytes(full + bytes(5000))
    with GameLog(path):
        pass
    assert path.stat().st_size == len(full)


# --- kill -9 ------------------------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    from blobrl.checkpoint import GameLog, Progress
    from blobrl.bench.gamelog import typical_record

    records = [typical_record(i) for i in range(20)]
    glog = GameLog(sys.argv[1], fsync_interval_s=1.0)
    i = 0
    while True:
        r = records[i % 20]
        r.game_id = i
        glog.append_game(r)
        glog.append_event(Progress(1, i + 1, 10**9, 30 * (i + 1)))
        i += 1
        if i % 50 == 0:
            print(i, flush=True)
    """
)


def test_kill_9_mid_stream_loses_nothing_that_was_written(tmp_path):
    path = tmp_path / "games.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        reported = 0
        deadline = time.monotonic() + 30
        while reported < 400 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            reported = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert reported >= 400
    contents = read_log(path)
    ids = [g.game_id for g in contents.games]
    assert ids == list(range(len(ids))) and len(ids) >= reported
    assert contents.last_progress is not None
    assert contents.last_progress.games_completed in (len(ids) - 1, len(ids))
    glog, _ = GameLog.open_for_resume(path)
    glog.close()


def test_repair_keeps_the_records_before_damage_and_moves_the_rest_aside(tmp_path, sample_log):
    full, ends = sample_log
    damaged = bytearray(full)
    damaged[ends[2] + HEADER_SIZE + 5] ^= 0x10
    path = tmp_path / "games.log"
    path.write_bytes(bytes(damaged))
    aside = repair_log(path)
    assert aside is not None and aside.name == f"games.log.damaged-{ends[2]}"
    assert aside.read_bytes() == bytes(damaged[ends[2] :])
    assert [g.game_id for g in read_log(path).games] == [0, 1]
    assert repair_log(path) is None
