"""Dealing a hand: which deals fit, the errors for those that do not, and the three trump modes."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from blobrl.game import (
    MAX_CARDS,
    GameError,
    action_name,
    card_name,
    check_deal_size,
    feasible_deals,
    from_deal,
    new_game,
    parse_card,
)
from blobrl.game.deal import turn_up

from .builders import cards

# RULES.md, A hand: the pairs of the 3..8 x 5..9 grid that do not fit a pack.
INFEASIBLE_FROM_RULES = [(6, 9), (7, 8), (7, 9), (8, 7), (8, 8), (8, 9)]


# ---- card and action ids ----------------------------------------------------------------------
def test_card_ids_follow_suit_times_thirteen_plus_rank():
    assert card_name(0) == "2♣"
    assert card_name(12) == "A♣"
    assert card_name(13) == "2♦"
    assert card_name(51) == "A♠"
    assert parse_card("2c") == 0
    assert parse_card("AS") == 51
    assert parse_card("10h") == parse_card("Th") == 2 * 13 + 8


def test_parse_card_reads_back_every_card_name():
    assert [parse_card(card_name(c)) for c in range(52)] == list(range(52))


@pytest.mark.parametrize("name", ["", "1C", "AX", "11S", "A", 7])
def test_parse_card_rejects_what_is_not_a_card(name):
    with pytest.raises(GameError, match="not a card name"):
        parse_card(name)


def test_action_names_distinguish_cards_and_bids():
    assert action_name(51) == "A♠"
    assert action_name(52) == "bid 0"
    assert action_name(64) == "bid 12"
    assert action_name(65) == "action 65"


# ---- which deals fit --------------------------------------------------------------------------
def test_feasible_deals_are_every_pair_that_fits_a_pack_and_the_bid_actions():
    expected = [(n, c) for n in range(3, 9) for c in range(1, 13) if n * c <= 52]
    assert feasible_deals() == expected
    assert (4, 12) in expected and (5, 10) in expected and (8, 6) in expected


@pytest.mark.parametrize(("n", "c"), INFEASIBLE_FROM_RULES)
def test_pairs_that_do_not_fit_a_pack_are_rejected_naming_the_cards_needed(n, c):
    assert (n, c) not in feasible_deals(range(3, 9), range(5, 10))
    message = f"{n} players x {c} cards needs {n * c} cards"
    with pytest.raises(GameError, match=message):
        check_deal_size(n, c)
    with pytest.raises(GameError, match=message):
        new_game(n, c, seed=0)


def test_feasible_part_of_the_rules_grid_is_the_grid_less_the_listed_pairs():
    grid = set(itertools.product(range(3, 9), range(5, 10)))
    assert set(feasible_deals(range(3, 9), range(5, 10))) == grid - set(INFEASIBLE_FROM_RULES)


@pytest.mark.parametrize(("n", "c"), [(3, 13), (3, 17), (4, 13)])
def test_more_cards_than_bid_actions_is_rejected_even_when_the_pack_would_do(n, c):
    with pytest.raises(GameError, match=f"at most {MAX_CARDS} cards per hand"):
        new_game(n, c, seed=0)


@pytest.mark.parametrize(
    ("n", "c", "fragment"),
    [
        (2, 5, "players must be 3..8, got 2"),
        (9, 5, "players must be 3..8, got 9"),
        (5, 0, "cards must be a positive integer, got 0"),
        (5, -1, "cards must be a positive integer"),
        (5.0, 5, "players must be 3..8"),
        (5, "7", "cards must be a positive integer"),
        (True, 5, "players must be 3..8"),
    ],
)
def test_bad_player_or_card_counts_are_rejected(n, c, fragment):
    with pytest.raises(GameError, match=re.escape(fragment)):
        new_game(n, c, seed=0)


# ---- from_deal validation ---------------------------------------------------------------------
def test_from_deal_rejects_hands_of_different_sizes():
    with pytest.raises(GameError, match=r"same number of cards, got sizes \[2, 1, 2\]"):
        from_deal([cards("2C 3C"), cards("4C"), cards("5C 6C")], dealer=0, trump=None)


def test_from_deal_rejects_a_card_dealt_twice_naming_it_and_the_seats():
    with pytest.raises(GameError, match=r"card 1 \(3♣\) is dealt twice \(seats 0 and 2\)"):
        from_deal([cards("2C 3C"), cards("4C 5C"), cards("6C 3C")], dealer=0, trump=None)


@pytest.mark.parametrize("bad", [52, -1, 2.0, "2C"])
def test_from_deal_rejects_card_ids_out_of_range(bad):
    with pytest.raises(GameError, match=re.escape("card ids are 0..51")):
        from_deal([[0], [1], [bad]], dealer=0, trump=None)


@pytest.mark.parametrize("hands", [[[0], [1]], [[c] for c in range(9)], []])
def test_from_deal_rejects_too_few_or_too_many_players(hands):
    with pytest.raises(GameError, match=re.escape("players must be 3..8")):
        from_deal(hands, dealer=0, trump=None)


def test_from_deal_rejects_a_deal_that_does_not_fit():
    hands = [list(range(13 * p, 13 * p + 13)) for p in range(3)]
    with pytest.raises(GameError, match="3 players x 13 cards"):
        from_deal(hands, dealer=0, trump=None)
    with pytest.raises(GameError, match="cards must be a positive integer, got 0"):
        from_deal([[], [], []], dealer=0, trump=None)


@pytest.mark.parametrize("dealer", [-1, 3, 1.0, None, True])
def test_dealer_must_be_a_seat(dealer):
    with pytest.raises(GameError, match=re.escape("dealer must be a seat 0..2")):
        from_deal([[0], [1], [2]], dealer=dealer, trump=None)
    with pytest.raises(GameError, match=re.escape("dealer must be a seat 0..2")):
        new_game(3, 1, seed=0, dealer=dealer if dealer is not None else 3)


@pytest.mark.parametrize("trump", [-1, 4, "spades", 2.0])
def test_trump_must_be_a_suit_or_none(trump):
    with pytest.raises(GameError, match="trump must be"):
        from_deal([[0], [1], [2]], dealer=0, trump=trump)
    with pytest.raises(GameError, match="trump must be"):
        new_game(3, 1, seed=0, trump=trump)


def test_unknown_scoring_and_trump_mode_are_rejected():
    with pytest.raises(GameError, match="scoring must be one of"):
        from_deal([[0], [1], [2]], dealer=0, trump=None, scoring="bridge")
    with pytest.raises(GameError, match="trump_mode must be one of"):
        new_game(3, 1, seed=0, trump_mode="random")


def test_seat_queries_out_of_range_are_rejected():
    state = from_deal([[0], [1], [2]], dealer=0, trump=None)
    for query in (state.hand, state.known_voids):
        with pytest.raises(GameError, match=re.escape("player must be a seat 0..2, got 3")):
            query(3)
        with pytest.raises(GameError, match=re.escape("player must be a seat 0..2, got -1")):
            query(-1)


def test_turned_up_card_must_be_out_of_the_hands_and_set_the_trump():
    hands = [cards("2C"), cards("3C"), cards("4C")]
    state = from_deal(hands, dealer=0, trump=2, turned_up=parse_card("AH"))
    assert state.turned_up == parse_card("AH")
    assert state.trump == 2
    with pytest.raises(GameError, match="turned-up card 2♣ is also in a hand"):
        from_deal(hands, dealer=0, trump=0, turned_up=parse_card("2C"))
    with pytest.raises(GameError, match="turned-up card A♥ makes hearts trump, got trump=3"):
        from_deal(hands, dealer=0, trump=3, turned_up=parse_card("AH"))
    with pytest.raises(GameError, match=re.escape("turned_up must be a card id 0..51")):
        from_deal(hands, dealer=0, trump=0, turned_up=52)


# ---- new_game ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "c"), feasible_deals())
def test_new_game_deals_distinct_cards_of_the_right_count_to_every_seat(n, c):
    state = new_game(n, c, seed=n * 100 + c)
    hands = [state.hand(p) for p in range(n)]
    assert all(len(h) == c for h in hands)
    dealt = [x for h in hands for x in h]
    assert len(set(dealt)) == n * c
    assert state.num_players == n and state.num_cards == c
    assert state.current_player == (state.dealer + 1) % n
    assert state.phase == "bidding" and state.history == []
    assert state.bids == [None] * n and state.tricks_won == [0] * n


def test_new_game_is_reproducible_from_a_seed_and_varies_between_seeds():
    a, b, c = (new_game(5, 7, seed=s) for s in (11, 11, 12))
    np.testing.assert_array_equal(a.vector, b.vector)
    assert [a.hand(p) for p in range(5)] != [c.hand(p) for p in range(5)]


def test_new_game_uses_the_given_dealer():
    for dealer in range(5):
        state = new_game(5, 3, seed=0, dealer=dealer)
        assert state.dealer == dealer
        assert state.current_player == (dealer + 1) % 5


def test_dealer_is_drawn_from_every_seat_when_not_given():
    assert {new_game(4, 3, seed=s).dealer for s in range(200)} == {0, 1, 2, 3}


def test_rotation_mode_draws_each_suit_and_no_trump_about_equally():
    draws = [new_game(4, 3, seed=s).trump for s in range(2000)]
    for trump in (0, 1, 2, 3, None):
        assert 0.15 < draws.count(trump) / len(draws) < 0.25
    assert all(new_game(4, 3, seed=s).turned_up is None for s in range(50))


@pytest.mark.parametrize(("n", "c"), feasible_deals())
def test_turn_up_mode_turns_up_a_card_out_of_play_whose_suit_is_trump(n, c):
    for seed in range(3):
        state = new_game(n, c, seed=seed, trump_mode="turn_up")
        turned = state.turned_up
        assert turned is not None
        assert state.trump == turned // 13
        assert all(turned not in state.hand(p) for p in range(n))


def test_turn_up_mode_always_finds_a_card_because_no_feasible_deal_uses_the_whole_pack():
    # 52 = 4 x 13 = 13 x 4 = ... : every way to use the whole pack breaks the player or card cap.
    assert max(n * c for n, c in feasible_deals()) < 52


def test_turn_up_gives_no_trump_when_the_pack_is_used_up():
    deck = list(range(51, -1, -1))
    assert turn_up(deck, 52) == (4, -1)
    assert turn_up(deck, 50) == (0, 1)  # the 51st card of this deck is the 3 of clubs
    assert turn_up(deck, 48) == (0, 3)


def test_none_mode_has_no_trump_and_no_turned_up_card():
    for seed in range(20):
        state = new_game(5, 7, seed=seed, trump_mode="none")
        assert state.trump is None and state.turned_up is None


def test_explicit_trump_overrides_the_mode():
    for mode in ("rotation", "turn_up", "none"):
        state = new_game(4, 5, seed=1, trump=1, trump_mode=mode)
        assert state.trump == 1 and state.turned_up is None
        assert new_game(4, 5, seed=1, trump=None, trump_mode=mode).trump is None


def test_new_game_accepts_a_generator_and_draws_from_it():
    rng = np.random.default_rng(3)
    first, second = new_game(5, 7, seed=rng), new_game(5, 7, seed=rng)
    assert first.hand(0) != second.hand(0)
