"""The strength curve picks a run's checkpoints by the minute they were written."""

from __future__ import annotations

import os

from blobrl.evaluation.curve import CurvePoint, checkpoints_at, plot


def _touch(path, minute, start):
    path.write_bytes(b"")
    os.utime(path, (start + minute * 60, start + minute * 60))


def test_checkpoints_are_the_last_written_by_each_minute(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    start = 1_700_000_000.0
    _touch(tmp_path / "config.json", 0, start)
    for i, minute in enumerate([1, 9, 12, 19, 33, 41, 58]):
        _touch(tmp_path / "checkpoints" / f"iter_{i:06d}.pt", minute, start)
    picked = checkpoints_at(tmp_path, [10, 20, 40, 60])
    assert [p.name for _, p in picked] == [
        "iter_000001.pt",
        "iter_000003.pt",
        "iter_000004.pt",
        "iter_000006.pt",
    ]
    assert [round(m) for m, _ in picked] == [9, 19, 33, 58]
    # a minute before the first checkpoint takes the first; repeats are dropped
    assert [p.name for _, p in checkpoints_at(tmp_path, [0, 0.5, 60, 70])] == [
        "iter_000000.pt",
        "iter_000006.pt",
    ]


def test_plot_writes_a_png(tmp_path):
    points = [
        CurvePoint(m, f"iter_{i}.pt", opp, 200, d, 0.3, 0.6, 0.6)
        for i, m in enumerate([10.0, 20.0])
        for opp, d in (("heuristic", 1.0 + i), ("ismcts:1000", -0.5 + i))
    ]
    out = tmp_path / "curve.png"
    plot(points, out, title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_point_has_its_paired_gain_over_the_first_checkpoint():
    from pathlib import Path

    from blobrl.evaluation.curve import measure

    points = measure(
        [(0.0, Path("random")), (10.0, Path("heuristic"))],
        ["random"],
        players=3,
        cards=3,
        deals=30,
        workers=1,
        seed=5,
        log=lambda _line: None,
    )
    first, later = points
    assert first.gain == 0.0 and first.gain_ci95 == 0.0
    # paired over the same deals: the mean gain is the difference of the two means
    assert abs(later.gain - (later.diff - first.diff)) < 2e-3
    assert later.gain > 0 and 0 < later.gain_ci95 < later.diff_ci95 + first.diff_ci95
