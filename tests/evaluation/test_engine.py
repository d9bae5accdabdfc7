"""The match engine: who decides which seat, every seating scored, turns within a round."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from blobrl.evaluation.engine import Batch, Deal, Seating, interval95, play_seatings
from blobrl.game import core as k


class _Recorder:
    """Plays the first legal action and records the seat and batch of every decision."""

    def __init__(self, side: int, calls: list) -> None:
        self.side, self.calls = side, calls

    def __call__(self, batch: Batch, active: np.ndarray) -> list[int]:
        games = np.flatnonzero(active).tolist()
        self.calls.append((self.side, games, [batch.games[i].current_player for i in games]))
        return [batch.games[i].legal_actions()[0] for i in games]


DEALS = [Deal(3, 3, seed=1), Deal(4, 2, seed=2)]
SEATINGS = [Seating(0, (0, 1, 1)), Seating(0, (1, 0, 0)), Seating(1, (0, 1, 0, 1))]


@pytest.mark.parametrize("turns", ["round", "side"])
def test_each_side_decides_only_for_its_own_seats(turns):
    calls: list = []
    play_seatings(DEALS, SEATINGS, (_Recorder(0, calls), _Recorder(1, calls)), turns=turns)
    assert {side for side, _, _ in calls} == {0, 1}
    for side, games, seats in calls:
        assert games == sorted(games)
        assert all(SEATINGS[g].owners[s] == side for g, s in zip(games, seats, strict=True))


def test_games_in_flight_split_a_match_without_changing_it():
    def hands(games_in_flight):
        calls: list = []
        deciders = (_Recorder(0, calls), _Recorder(1, calls))
        return play_seatings(
            DEALS, SEATINGS, deciders, turns="round", games_in_flight=games_in_flight
        )

    whole, split = hands(8), hands(2)
    for field in ("deal", "side", "score", "bid", "tricks"):
        assert getattr(whole, field).tolist() == getattr(split, field).tolist()


def test_every_seat_of_every_seating_is_scored_in_play_order():
    calls: list = []
    hands = play_seatings(
        DEALS, SEATINGS, (_Recorder(0, calls), _Recorder(1, calls)), turns="round"
    )
    assert hands.deal.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert hands.side.tolist() == [0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    total, count = hands.of(0).per_deal(2)
    assert count.tolist() == [3, 2]
    assert total.tolist() == [
        hands.score[[0, 4, 5]].sum(),
        hands.score[[6, 8]].sum(),
    ]
    assert ((hands.bid >= 0) & (hands.tricks >= 0)).all()


def test_with_turns_by_side_a_game_can_take_a_decision_from_each_side_in_one_round():
    calls: list = []
    deciders = (_Recorder(0, calls), _Recorder(1, calls))
    play_seatings(DEALS[:1], SEATINGS[:2], deciders, turns="side")
    assert any(
        set(first[1]) & set(second[1])
        for first, second in itertools.pairwise(calls)
        if (first[0], second[0]) == (0, 1)
    )


def test_interval_is_undefined_below_two_values():
    assert interval95(np.array([3.0])) == float("inf")
    assert interval95(np.array([1.0, 3.0])) == pytest.approx(1.96 * np.sqrt(2.0) / np.sqrt(2.0))


def test_forced_moves_never_reach_a_decider_when_turns_are_read_once_a_round():
    calls: list = []

    class Checking(_Recorder):
        def __call__(self, batch, active):
            buf = np.empty(k.NUM_ACTIONS, np.int64)
            for i in np.flatnonzero(active).tolist():
                assert k.legal_actions(batch.states[i], buf) > 1
            return super().__call__(batch, active)

    play_seatings(DEALS, SEATINGS, (Checking(0, calls), Checking(1, calls)), turns="round")
    assert calls
