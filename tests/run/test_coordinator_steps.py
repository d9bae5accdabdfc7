"""The Coordinator driven one :meth:`step` at a time over services that answer at once: what
each step does is checked directly, with no threads and no waiting."""

from __future__ import annotations

import pytest
from actors.fakes import MemoryJournal

from blobrl.actors.coordinator import Coordinator
from blobrl.checkpoint import IterationDone, Progress
from blobrl.data import RunState
from blobrl.run import ARENA_ATTEMPTS

from .conftest import run_config
from .fakes import FakeEvaluator, FakeLearner, FakeReplay, FakeSelfPlay, inline


def make(config, *, actors=2, evaluator=None, journal=None, **kwargs):
    sp = [FakeSelfPlay(f"selfplay-{i}") for i in range(actors)]
    parts = {
        "selfplay": sp, "replay": FakeReplay(), "learner": FakeLearner(),
        "evaluator": evaluator, "journal": journal or MemoryJournal(),
    }  # fmt: skip
    coord = Coordinator(
        config,
        selfplay=[inline(s) for s in sp],
        replay=inline(parts["replay"]),
        learner=inline(parts["learner"]),
        evaluator=inline(evaluator) if evaluator is not None else None,
        journal=parts["journal"],
        **kwargs,
    )
    coord.start()
    return coord, parts


def steps(coord, limit=500):
    """Step until the run is over (bounded); returns how many steps it took."""
    for n in range(1, limit + 1):
        if not coord.step():
            return n
    raise AssertionError(f"the run did not finish in {limit} steps")


def test_a_run_trains_every_iteration_on_exactly_its_own_games():
    config = run_config(iterations=4)
    coord, parts = make(config, evaluator=FakeEvaluator())
    steps(coord)
    journal, learner = parts["journal"], parts["learner"]
    keys = [(g.iteration, g.game_id) for g in journal.games]
    assert len(keys) == len(set(keys)) == 6 + 6 + 4 + 4
    # Each iteration trained once, in order, on the positions of its own games (3 each).
    assert learner.trained == [(1, 18), (2, 18), (3, 12), (4, 12)]
    assert sorted(journal.checkpoints) == [0, 1, 2, 3, 4]
    done = [e for e in journal.events if isinstance(e, IterationDone)]
    assert [(e.iteration, e.games) for e in done] == [(0, 0), (1, 6), (2, 6), (3, 4), (4, 4)]
    # Every candidate won its arena, so each played the one before it.
    assert [(it, best) for it, _, best in parts["evaluator"].arenas] == [
        (1, b"w0"), (2, b"w1"), (3, b"w2"), (4, b"w3"),
    ]  # fmt: skip
    assert coord.best_version == 4 and journal.best[-1][0] == 4


def test_phase_settings_reach_every_actor_before_its_games():
    config = run_config(iterations=4)
    coord, parts = make(config)
    coord.step()
    for actor in parts["selfplay"]:
        assert actor.settings == config.search_at(1)
        assert actor.calls.index("set_settings") < actor.calls.index("submit")
    steps(coord)
    assert {g.determinizations for g in parts["journal"].games} == {1}  # the fakes' records
    assert all(a.settings == config.search_at(3) for a in parts["selfplay"])


def test_pause_holds_every_game_until_resume():
    coord, parts = make(run_config(iterations=2))
    coord.step()
    assert coord.control("pause").success
    before = coord.games_played
    for _ in range(20):
        coord.step()
    assert coord.state == RunState.PAUSED
    assert coord.games_played == before and all(a.paused for a in parts["selfplay"])
    assert coord.control("resume").success
    steps(coord)
    assert coord.games_played == 12


def test_a_run_started_paused_plays_nothing_until_start():
    coord, parts = make(run_config(iterations=1), start_paused=True)
    for _ in range(20):
        assert coord.step()
    assert coord.state == RunState.IDLE and coord.games_played == 0
    assert all(a.paused for a in parts["selfplay"])
    assert coord.control("start").success
    steps(coord)
    assert coord.games_played == 6


def test_a_lost_actor_s_games_are_played_by_another():
    coord, parts = make(run_config(iterations=1))
    coord.step()  # both actors hold games now
    lost = parts["selfplay"][0]
    held = len(lost.queued)
    assert held > 0
    lost.fail = True
    steps(coord)
    assert coord.recoveries == {"selfplay": 1}
    keys = sorted((g.iteration, g.game_id) for g in parts["journal"].games)
    assert keys == [(1, i) for i in range(6)]


def test_stop_ends_the_run_with_its_progress_logged():
    journal = MemoryJournal()
    coord, _ = make(run_config(iterations=3), journal=journal)
    coord.step()
    coord.control("stop")
    assert coord.step() is False
    coord.shutdown()
    assert coord.state == RunState.STOPPED
    progress = journal.events[-1]
    assert isinstance(progress, Progress) and progress.iteration == coord.iteration
    assert progress.games_completed == coord.ledger.games_in(coord.iteration)
    assert progress.buffer_size == 3 * coord.games_played  # three positions a fake game


@pytest.mark.parametrize("share, promoted", [(1.0, True), (0.0, False)])
def test_the_arena_decides_the_best_network(share, promoted):
    coord, parts = make(run_config(iterations=1), evaluator=FakeEvaluator(share))
    steps(coord)
    entry = coord.history()["elo"][-1]
    assert entry["promoted"] is promoted and entry["share"] == share
    assert coord.best_version == (1 if promoted else 0)
    assert [b[0] for b in parts["journal"].best] == ([1] if promoted else [])


def test_an_arena_that_keeps_failing_is_tried_three_times_then_given_up():
    evaluator = FakeEvaluator(fail=True)
    coord, _ = make(run_config(iterations=2), evaluator=evaluator)
    steps(coord)
    tried = [it for it, _, _ in evaluator.arenas]
    assert tried.count(1) == ARENA_ATTEMPTS or tried.count(2) == ARENA_ATTEMPTS
    assert coord.best_version == 0 and coord.trained == 2
