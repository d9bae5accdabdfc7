"""Evaluation scheduling: one arena at a time, the newest candidate waiting (older waiting ones
skipped), a resumed run's owed arenas first, failures retried then given up."""

from __future__ import annotations

from blobrl.run import ARENA_ATTEMPTS, ArenaFailed, ArenaPlayed, EvaluationSchedule

from .fakes import FakeEvaluator, inline


def schedule(evaluator, *, weights=None, gauntlet_every=0):
    stored = weights or {}
    return EvaluationSchedule(
        inline(evaluator), gauntlet_every=gauntlet_every, last_iteration=10,
        weights_of=stored.get,
    )  # fmt: skip


def test_one_arena_at_a_time_and_only_the_newest_waiting_candidate_is_played():
    evaluator = FakeEvaluator()
    s = schedule(evaluator)
    s.candidate(1, b"c1", b"best")
    s.candidate(2, b"c2", b"best")
    s.candidate(3, b"c3", b"best")  # replaces 2, which is skipped
    assert s.owed() == [1, 3]
    played = [o.iteration for o in s.poll(b"best") if isinstance(o, ArenaPlayed)]
    assert played == [1]
    # The next poll starts 3 against the best of its time (and, answered at once, returns it).
    assert [o.iteration for o in s.poll(b"new best")] == [3]
    assert [(it, best) for it, _, best in evaluator.arenas] == [(1, b"best"), (3, b"new best")]
    assert s.idle


def test_a_resumed_run_plays_what_it_owed_first_each_against_the_best_of_its_time():
    evaluator = FakeEvaluator()
    s = schedule(evaluator, weights={4: b"c4", 5: b"c5"})
    s.owe([3, 4, 5])  # iteration 3's checkpoint is gone: skipped
    s.candidate(6, b"c6", b"best")  # waits behind the owed ones
    order = []
    for _ in range(10):
        order += [o.iteration for o in s.poll(b"best") if isinstance(o, ArenaPlayed)]
    assert order == [4, 5, 6] and s.idle


def test_a_failing_arena_is_tried_again_then_given_up():
    s = schedule(FakeEvaluator(fail=True))
    s.candidate(1, b"c1", b"best")
    failures = []
    for _ in range(10):
        failures += [o for o in s.poll(b"best") if isinstance(o, ArenaFailed)]
    assert [f.attempt for f in failures] == list(range(1, ARENA_ATTEMPTS + 1))
    assert [f.given_up for f in failures] == [False] * (ARENA_ATTEMPTS - 1) + [True]
    assert s.idle


def test_gauntlets_follow_their_schedule_and_the_last_iteration():
    evaluator = FakeEvaluator()
    s = schedule(evaluator, gauntlet_every=4)
    for it in range(1, 11):
        s.candidate(it, f"c{it}".encode(), b"best")
    gauntlets = [o.iteration for o in s.poll(b"best") if not isinstance(o, ArenaPlayed)]
    assert gauntlets == [4, 8, 10]
