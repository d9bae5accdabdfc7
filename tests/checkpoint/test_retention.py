"""Tiered retention: the rule as written in DESIGN.md and retention.py, checked from its text."""

from __future__ import annotations

import logging

import pytest

from blobrl.checkpoint import CheckpointStore, iterations_to_keep
from blobrl.checkpoint.store import iteration_file, sidecar


def expected_from_rule(latest: int, best: int | None, first: int = 1) -> set[int]:
    """Written from the documented rule, counting the latest as 1 back."""
    keep = {latest} | ({best} if best is not None else set())
    for it in range(first, latest + 1):
        back = latest - it + 1
        last_ten = back <= 10
        every_2nd = 11 <= back <= 30 and it % 2 == 0
        kept_for_later = 11 <= back <= 30 and it % 5 == 0  # will be "every 5th" at 31..50 back
        every_5th = 31 <= back <= 50 and it % 5 == 0
        every_10th = back > 50 and it % 10 == 0
        if last_ten or every_2nd or kept_for_later or every_5th or every_10th:
            keep.add(it)
    return keep


def make_dummy_checkpoints(store: CheckpointStore, iterations) -> None:
    store.dir.mkdir(parents=True, exist_ok=True)
    for it in iterations:
        path = store.dir / iteration_file(it)
        path.write_bytes(b"x")
        sidecar(path).write_text("0" * 64 + f"  {path.name}\n")


def test_examples_of_the_tiers():
    kept = iterations_to_keep(range(1, 501), 500, None)
    assert set(range(491, 501)) <= kept  # last 10
    assert {490, 488, 485, 472} <= kept and not {489, 487, 471} & kept  # 11..30 back
    assert {470, 465, 455, 451 - 1} <= kept and not {468, 462} & kept  # 31..50 back
    assert {450, 100, 10} <= kept and not {445, 255, 12} & kept  # beyond


@pytest.mark.parametrize(("count", "best"), [(50, None), (50, 3), (500, None), (500, 137)])
def test_prune_keeps_exactly_the_tiers_plus_best_and_latest(tmp_path, count, best):
    store = CheckpointStore(tmp_path)
    make_dummy_checkpoints(store, range(1, count + 1))
    if best is not None:
        store.dir.joinpath("best.json").write_text(f'{{"iteration": {best}}}')
    store.prune()
    assert set(store.iterations()) == expected_from_rule(count, best)
    for it in store.iterations():
        assert sidecar(store.dir / iteration_file(it)).exists()
    orphans = [p for p in store.dir.glob("*.sha256") if not p.with_suffix("").exists()]
    assert orphans == []


def test_pruning_every_iteration_leaves_what_one_prune_would(tmp_path):
    store = CheckpointStore(tmp_path)
    for it in range(1, 131):
        make_dummy_checkpoints(store, [it])
        store.prune()
    assert set(store.iterations()) == expected_from_rule(130, None)
    # The 31..50 back band holds every multiple of 5, not just the even ones.
    assert {95, 85} <= set(store.iterations())


def test_keep_all_deletes_nothing(tmp_path):
    store = CheckpointStore(tmp_path, keep_all=True)
    make_dummy_checkpoints(store, range(1, 80))
    assert store.prune() == []
    assert store.iterations() == list(range(1, 80))


def test_empty_and_single():
    assert iterations_to_keep([], None, None) == set()
    assert iterations_to_keep([7], None, 3) == {7}


def test_each_deletion_is_logged_with_the_file_and_the_rule(tmp_path, caplog):
    store = CheckpointStore(tmp_path)
    make_dummy_checkpoints(store, range(1, 13))
    with caplog.at_level(logging.INFO, logger="blobrl.checkpoint.store"):
        deleted = store.prune()
    # 12 is the latest: 1 is 12 back, in 11..30 back, and neither even nor a multiple of 5.
    assert [p.name for p in deleted] == [iteration_file(1)]
    lines = [r for r in caplog.records if "retention" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert lines[0].getMessage() == (
        f"{store.dir / iteration_file(1)} deleted by checkpoint retention: 12 back from "
        "iteration 12; 11..30 back keeps every 2nd or every 5th iteration"
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="blobrl.checkpoint.store"):
        assert store.prune() == []
    assert not caplog.records  # nothing deleted, nothing said


def test_keep_all_logs_no_deletion(tmp_path, caplog):
    store = CheckpointStore(tmp_path, keep_all=True)
    make_dummy_checkpoints(store, range(1, 80))
    with caplog.at_level(logging.INFO, logger="blobrl.checkpoint.store"):
        assert store.prune() == []
    assert not caplog.records
