"""A run stopped while arenas are owed (one running, one waiting) plays them all when it is
resumed, in order, each candidate from its iteration checkpoint against the best of its time;
the checkpoint records which arenas are owed, and an older checkpoint without that record gets
it inferred from its arena history."""

from __future__ import annotations

import dataclasses
import threading
from itertools import pairwise

import pytest
import torch

from blobrl.actors.compose import Resources, build
from blobrl.actors.journal import RunJournal
from blobrl.checkpoint import CheckpointStore
from blobrl.nn import bytes_to_state_dict
from blobrl.run import arenas_owed_at

from .fakes import MemoryJournal
from .test_coordinator import coordinator, start, tiny_config, wait_for
from .test_resume import Gate, journal_for, stop_and_wait

pytestmark = pytest.mark.timeout(300)


def model(store: CheckpointStore, iteration: int) -> dict[str, torch.Tensor]:
    path = store.dir / f"iter_{iteration:06d}.pt"
    return store.load(path).payload["learner_state"]["learner"]["model"]


def same_weights(weights: bytes, expected: dict[str, torch.Tensor]) -> bool:
    got = bytes_to_state_dict(weights)
    return got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in got)


def stop_with_two_arenas_owed(run_dir, config) -> int:
    """Run until iteration 2 is trained while the arena of iteration 1 is held (so that of
    iteration 2 waits), then stop; returns the last iteration trained."""
    system = build(config, journal_for(run_dir), remote=False, resources=Resources(2, 0))
    gate = Gate(system.evaluator.obj, "arena")
    thread = threading.Thread(target=system.coordinator.obj.run, daemon=True)
    thread.start()
    assert gate.reached.wait(120)
    coord = coordinator(system)
    assert wait_for(lambda: coord.trained >= 2, timeout=120)
    stop_and_wait(system, thread)
    trained = coord.trained
    gate.release.set()
    system.shutdown()
    return trained


@pytest.mark.parametrize("older_checkpoint", [False, True])
def test_arenas_owed_at_a_stop_are_played_after_resume(tmp_path, older_checkpoint):
    config = tiny_config(3)
    trained = stop_with_two_arenas_owed(tmp_path, config)
    store = CheckpointStore(tmp_path)
    latest = store.load()
    assert latest.iteration == trained and latest.payload["elo_history"] == []
    if older_checkpoint:  # as written before checkpoints recorded the arenas owed
        payload = {k: v for k, v in latest.payload.items() if k != "arenas_owed"}
        store.save(latest.iteration, payload, prune=False)
    else:
        assert latest.payload["arenas_owed"] == list(range(1, trained + 1))

    system, thread, result = start(config, journal_for(tmp_path), resume=True)
    evaluator = system.evaluator.obj
    arena = evaluator.arena
    calls: list[tuple[int, bytes, bytes]] = []

    def recorded(candidate, best, *, iteration):
        calls.append((iteration, candidate, best))
        return arena(candidate, best, iteration=iteration)

    evaluator.arena = recorded
    thread.join(300)
    system.shutdown()
    status = result["status"]
    assert status.error is None and status.trained_iterations == 3

    # Every arena once, the owed ones first, in order (none skipped for a newer candidate).
    assert [it for it, _, _ in calls] == [1, 2, 3]
    final = store.load().payload
    history = final["elo_history"]
    assert [entry["iteration"] for entry in history] == [1, 2, 3]
    assert final["arenas_owed"] == []
    # Each candidate is its iteration's network; each best the one of its time: the initial
    # network (iteration 0) until a promotion, then the promoted one.
    best = 0
    for (iteration, candidate, against), entry in zip(calls, history, strict=True):
        assert same_weights(candidate, model(store, iteration))
        assert same_weights(against, model(store, best))
        assert entry["best_version"] == best
        if entry["promoted"]:
            best = iteration


def test_an_arena_that_waited_plays_the_network_promoted_just_before_it():
    config = tiny_config(3)
    system = build(config, MemoryJournal(), remote=False, resources=Resources(2, 0))
    evaluator = system.evaluator.obj
    arena = evaluator.arena
    calls: list[tuple[int, bytes, bytes]] = []

    def promoting(candidate, best, *, iteration):
        calls.append((iteration, candidate, best))
        result = arena(candidate, best, iteration=iteration)
        return dataclasses.replace(result, a_wins=result.deals, b_wins=0, ties=0)

    evaluator.arena = promoting
    gate = Gate(evaluator, "arena")  # holds the arena of iteration 1 while 2 trains
    coord = coordinator(system)
    thread = threading.Thread(target=coord.run, daemon=True)
    thread.start()
    assert gate.reached.wait(120)
    assert wait_for(lambda: coord.trained >= 2, timeout=120)
    gate.release.set()
    thread.join(300)
    system.shutdown()
    # The arena of iteration 1 was held while a later one came to wait for it.
    assert coord.error is None and calls[0][0] == 1 and len(calls) >= 2
    assert all(entry["promoted"] for entry in coord.history()["elo"])
    for (_, previous, _), (iteration, _, best) in pairwise(calls):
        assert best == previous, f"arena {iteration} played a best older than the last promoted"


def test_older_checkpoints_owe_the_arenas_after_the_last_one_played():
    history = [{"iteration": it} for it in (1, 2, 4)]  # 3 was skipped for 4 as the run went
    assert arenas_owed_at(6, {"elo_history": history}) == [5, 6]
    assert arenas_owed_at(4, {"elo_history": history}) == []
    assert arenas_owed_at(2, {}) == [1, 2]
    assert arenas_owed_at(0, {}) == []
    assert arenas_owed_at(6, {"elo_history": history, "arenas_owed": [6, 5]}) == [5, 6]


def test_the_journal_reads_an_iteration_checkpoint_back_or_says_it_is_gone(tmp_path):
    journal = RunJournal(tmp_path, keep_all=True)
    try:
        journal.save_checkpoint(1, {"arenas_owed": [1], "best_version": 0})
        assert journal.checkpoint(1) == {"arenas_owed": [1], "best_version": 0}
        assert journal.checkpoint(2) is None
    finally:
        journal.close()
