"""``game_log_append_ms_p50/p99``: the cost of one durable append of a typical 5x7 game to the
game log; and :func:`typical_record`, the game record it appends (the checkpoint tests use it)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from blobrl.checkpoint import GameLog
from blobrl.data import CONT, STORED_BIT_BYTES, GameRecord

PLAYERS, CARDS, POSITIONS = 5, 7, 30  # a 5x7 hand records about 30 searched decisions


def typical_record(seed: int = 0, *, positions: int = POSITIONS) -> GameRecord:
    """A 5x7 game record with random contents and the real shapes and dtypes."""
    rng = np.random.default_rng(seed)
    legal = rng.random((positions, 65)) < 0.2
    policy = np.where(legal, rng.random((positions, 65)), 0.0)
    policy /= np.maximum(policy.sum(1, keepdims=True), 1e-9)
    return GameRecord(
        seed=seed,
        num_players=PLAYERS,
        num_cards=CARDS,
        weight_version=1,
        determinizations=3,
        simulations=30,
        actions=rng.integers(0, 65, PLAYERS + PLAYERS * CARDS).astype(np.int16),
        players=rng.integers(0, PLAYERS, positions).astype(np.int8),
        feature_bits=rng.integers(0, 256, (positions, STORED_BIT_BYTES)).astype(np.uint8),
        feature_cont=rng.random((positions, CONT)).astype(np.float16),
        legal=legal,
        policy=policy.astype(np.float16),
        scores=rng.integers(-5, 15, PLAYERS).astype(np.float32),
        iteration=1,
        game_id=seed,
    )


def gamelog(quick: bool) -> dict[str, float]:
    """Milliseconds per ``GameLog.append_game`` (serialize, frame, write to the OS) with the
    default 1 s group-commit fsync running in the background, as self-play uses it."""
    n = 500 if quick else 5_000
    records = [typical_record(i) for i in range(50)]
    times = np.empty(n)
    with (
        tempfile.TemporaryDirectory() as tmp,
        GameLog(Path(tmp) / "games.log", fsync_interval_s=1.0) as glog,
    ):
        for r in records[:10]:  # warm up
            glog.append_game(r)
        for i in range(n):
            start = time.perf_counter()
            glog.append_game(records[i % len(records)])
            times[i] = time.perf_counter() - start
    return {
        "game_log_append_ms_p50": float(np.percentile(times, 50) * 1e3),
        "game_log_append_ms_p99": float(np.percentile(times, 99) * 1e3),
    }
