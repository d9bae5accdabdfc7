"""The game ledger: every game of the run is handed out and counted exactly once, whatever
order games come back in, however many are lost and handed out again."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from blobrl.run import GameLedger

from .conftest import run_config


@dataclass(frozen=True)
class Finished:
    """What the ledger reads of a finished game."""

    iteration: int
    game_id: int
    num_positions: int = 5


def finished(spec) -> Finished:
    return Finished(spec.iteration, spec.game_id)


def test_games_are_handed_out_in_order_and_never_past_the_iteration_being_trained():
    ledger = GameLedger(run_config(iterations=4), last_iteration=4)
    first = ledger.next_specs(100)
    # Iteration 1 and (same phase, while 1 trains) iteration 2; never 3 before 1 is trained.
    assert [(s.iteration, s.game_id) for s in first] == [(1, i) for i in range(6)] + [
        (2, i) for i in range(6)
    ]
    assert ledger.next_specs(100) == []
    for spec in first:
        ledger.record(finished(spec))
    assert ledger.iteration == 3 and ledger.trainable() == 1
    assert ledger.next_specs(100) == []  # two iterations ahead of training: not yet
    ledger.trained = 1  # while 2 trains, 3 (the next phase: its own settings) is played
    assert {s.iteration for s in ledger.next_specs(100)} == {3}


def test_a_game_counts_once_however_often_it_arrives():
    ledger = GameLedger(run_config(), last_iteration=4)
    spec = ledger.next_specs(1)[0]
    assert ledger.record(finished(spec)) is True
    assert ledger.record(finished(spec)) is False
    assert ledger.games_played == 1 and ledger.positions == {1: 5}


def test_each_game_has_the_deal_the_mix_sampler_gives_its_iteration_and_index():
    config = run_config()
    ledger = GameLedger(config, last_iteration=4)
    sampler = config.game_mix_sampler()
    for spec in ledger.next_specs(12):
        assert (spec.num_players, spec.num_cards) == sampler.draw(spec.iteration, spec.game_id)
        assert spec.seed == sampler.deal_seed(spec.iteration, spec.game_id)


def test_lost_games_go_out_first_again_unless_they_came_in_meanwhile():
    ledger = GameLedger(run_config(), last_iteration=4)
    specs = ledger.next_specs(4)
    ledger.record(finished(specs[1]))
    assert ledger.lost(reversed(specs)) == 3
    again = ledger.next_specs(3)
    assert [s.game_id for s in again] == [0, 2, 3]


@settings(max_examples=60, deadline=None)
@given(
    actions=st.lists(
        st.tuples(st.sampled_from(["take", "finish", "lose", "train"]), st.integers(1, 5)),
        max_size=120,
    ),
    iterations=st.integers(1, 4),
)
def test_any_interleaving_plays_every_game_of_the_run_exactly_once(actions, iterations):
    """Random hand-outs, finishes (in any order), losses and training steps, then drained:
    the games counted are exactly the run's, each once, none handed out past the iteration
    after the one being trained."""
    config = run_config(iterations=iterations)
    ledger = GameLedger(config, last_iteration=iterations)
    out: list = []  # handed out, not back

    def check(specs):
        for s in specs:
            assert s.iteration <= ledger.trained + 2

    for action, k in actions:
        if action == "take":
            specs = ledger.next_specs(k)
            check(specs)
            out.extend(specs)
        elif action == "finish" and out:
            for spec in out[-k:]:
                ledger.record(finished(spec))
            del out[-k:]
        elif action == "lose" and out:
            ledger.lost(out[:k])
            del out[:k]
        elif action == "train" and ledger.trainable() is not None:
            ledger.trained += 1
    for _ in range(10_000):  # drain: finish everything, train as soon as possible
        if ledger.trainable() is not None:
            ledger.trained += 1
            continue
        specs = ledger.next_specs(8) + out
        out = []
        if not specs:
            break
        check(specs)
        for spec in specs:
            ledger.record(finished(spec))
    expected = {
        (it, i) for it in range(1, iterations + 1)
        for i in range(config.phase_at(it).games_per_iteration)
    }  # fmt: skip
    got = {(it, i) for it, done in ledger.done.items() for i in done}
    assert got == expected and ledger.games_played == len(expected)
    assert ledger.trained == iterations and ledger.iteration == iterations + 1
