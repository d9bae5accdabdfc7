"""The full-game mode (RULES.md, A full game): round sequence, dealer and trump rotation."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.game import FullGame, GameError, round_schedule

from .builders import play_randomly

SPADES, HEARTS, CLUBS, DIAMONDS = 3, 2, 0, 1


def test_rounds_go_down_from_the_maximum_to_one_and_back_up():
    rounds = round_schedule(5, 7)
    assert [r.cards for r in rounds] == [7, 6, 5, 4, 3, 2, 1, 2, 3, 4, 5, 6, 7]
    assert [r.number for r in rounds] == list(range(13))
    assert [r.cards for r in round_schedule(4, 1)] == [1]


def test_dealer_moves_one_seat_clockwise_each_round():
    rounds = round_schedule(4, 5, first_dealer=2)
    assert [r.dealer for r in rounds] == [(2 + i) % 4 for i in range(len(rounds))]


def test_trump_rotates_spades_hearts_clubs_diamonds_no_trump():
    rounds = round_schedule(3, 6)
    cycle = [SPADES, HEARTS, CLUBS, DIAMONDS, None]
    assert [r.trump for r in rounds] == (cycle * 3)[: len(rounds)]


def test_turn_up_and_none_modes_set_the_trump_of_every_round():
    assert {r.trump for r in round_schedule(4, 4, trump_mode="turn_up")} == {"auto"}
    assert {r.trump for r in round_schedule(4, 4, trump_mode="none")} == {None}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"num_players": 7, "max_cards": 8}, "7 players x 8 cards needs 56 cards"),
        ({"num_players": 4, "max_cards": 0}, "cards must be a positive integer"),
        ({"num_players": 4, "max_cards": 5, "first_dealer": 4}, "first_dealer must be a seat"),
        ({"num_players": 4, "max_cards": 5, "first_dealer": -1}, "first_dealer must be a seat"),
        ({"num_players": 4, "max_cards": 5, "trump_mode": "random"}, "trump_mode must be one of"),
    ],
)
def test_a_schedule_that_cannot_be_played_is_rejected(kwargs, fragment):
    with pytest.raises(GameError, match=fragment):
        round_schedule(**kwargs)


@pytest.mark.parametrize("trump_mode", ["rotation", "turn_up", "none"])
def test_full_game_deals_each_scheduled_round_and_adds_up_the_scores(trump_mode):
    game = FullGame(4, 5, seed=7, first_dealer=1, trump_mode=trump_mode, scoring="oh_hell")
    rng = np.random.default_rng(0)
    totals = [0] * 4
    for spec in game.rounds:
        assert not game.is_over()
        state = game.next_round()
        assert (state.num_cards, state.dealer, state.scoring) == (
            spec.cards,
            spec.dealer,
            "oh_hell",
        )
        if trump_mode == "turn_up":
            assert state.turned_up is not None and state.trump == state.turned_up // 13
        else:
            assert state.trump == spec.trump and state.turned_up is None
        play_randomly(state, rng)
        got = game.record(state)
        assert got == state.scores()
        totals = [t + g for t, g in zip(totals, got, strict=True)]
        assert game.totals == totals
    assert game.is_over()
    assert sum(totals) > 0  # oh_hell scores every trick, so a whole game cannot total zero
    with pytest.raises(GameError, match="every round has been played"):
        game.next_round()


def test_full_game_refuses_an_unfinished_or_foreign_hand():
    game = FullGame(3, 3, seed=1)
    state = game.next_round()
    with pytest.raises(GameError, match="needs a finished hand"):
        game.record(state)
    other = FullGame(3, 2, seed=1).next_round()
    play_randomly(other, np.random.default_rng(0))
    with pytest.raises(GameError, match="round 0 is 3 cards dealt by seat 0"):
        game.record(other)
    assert game.round_index == 0 and game.totals == [0, 0, 0]


def test_full_games_with_the_same_seed_deal_the_same_rounds():
    a, b = FullGame(5, 4, seed=3), FullGame(5, 4, seed=3)
    np.testing.assert_array_equal(a.next_round().vector, b.next_round().vector)
