"""The rules of one hand (RULES.md, A hand), each checked on a position built from an action list.

Every deal here has three players and dealer 2, so seat 0 is eldest: it bids first and leads the
first trick, and the dealer bids last.
"""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.game import IllegalActionError, card_name, from_deal

from .builders import bid, bids, card, cards, play

HEARTS, CLUBS, SPADES = 2, 0, 3


def three_hands(a: str, b: str, c: str, *, trump: int | None = HEARTS, scoring: str = "blob"):
    return from_deal([cards(a), cards(b), cards(c)], dealer=2, trump=trump, scoring=scoring)


def legal_bids(state) -> list[int]:
    return [a - bid(0) for a in state.legal_actions()]


def assert_illegal(state, action: int, *fragments: str) -> None:
    """``action`` raises IllegalActionError whose message has ``fragments``; nothing changes."""
    before = state.vector.copy()
    with pytest.raises(IllegalActionError) as info:
        state.apply(action)
    for fragment in fragments:
        assert fragment in str(info.value)
    np.testing.assert_array_equal(state.vector, before)


# ---- bidding ----------------------------------------------------------------------------------
def test_bidding_goes_clockwise_from_eldest_and_ends_with_the_dealer():
    state = three_hands("AC 2H", "KC 3D", "2C AS")
    seen = []
    for b in (0, 0, 0):
        seen.append(state.current_player)
        state.apply(bid(b))
    assert seen == [0, 1, 2]
    assert state.bids == [0, 0, 0]
    assert state.current_player == 0  # eldest leads the first trick


@pytest.mark.parametrize("dealer", [0, 1, 2])
def test_dealer_cannot_make_bids_sum_to_cards(dealer):
    state = from_deal([cards("AC 2H"), cards("KC 3D"), cards("2C AS")], dealer=dealer, trump=HEARTS)
    play(state, bids(1, 0))
    assert state.current_player == dealer
    assert legal_bids(state) == [0, 2]
    assert_illegal(state, bid(1), "bid 1", f"player {dealer}", "dealer may not bid 1")


def test_hook_bars_a_zero_bid_when_earlier_bids_already_sum_to_cards():
    state = play(three_hands("AC 2H", "KC 3D", "2C AS"), bids(1, 1))
    assert legal_bids(state) == [1, 2]
    assert_illegal(state, bid(0), "dealer may not bid 0")


def test_no_bid_is_barred_when_earlier_bids_exceed_cards():
    state = play(three_hands("AC 2H", "KC 3D", "2C AS"), bids(2, 1))
    assert legal_bids(state) == [0, 1, 2]
    state.apply(bid(0))
    assert state.bids == [2, 1, 0]


def test_players_before_the_dealer_may_bid_anything_up_to_the_cards():
    state = three_hands("AC 2H", "KC 3D", "2C AS")
    assert legal_bids(state) == [0, 1, 2]
    state.apply(bid(2))
    assert legal_bids(state) == [0, 1, 2]  # a second bid of 0 would already sum to 2: allowed


def test_a_bid_above_the_number_of_cards_is_illegal():
    state = three_hands("AC 2H", "KC 3D", "2C AS")
    assert_illegal(state, bid(3), "bid 3", "player 0", "bids are 0..2")


def test_a_card_cannot_be_played_before_everyone_has_bid():
    state = play(three_hands("AC 2H", "KC 3D", "2C AS"), bids(1))
    assert_illegal(state, card("KC"), card_name(card("KC")), "player 1", "after everyone has bid")


# ---- playing cards ----------------------------------------------------------------------------
def test_player_must_follow_the_led_suit_when_holding_it():
    state = play(three_hands("AC 2H", "KC 3H", "2C AS"), [*bids(0, 0, 0), "AC"])
    assert state.legal_actions() == [card("KC")]
    assert_illegal(state, card("3H"), f"{card('3H')} (3♥)", "player 1", "must follow clubs")


def test_player_without_the_led_suit_may_play_any_card_and_need_not_trump():
    state = play(three_hands("AC 2H", "KC 3H", "2D AS", trump=SPADES), [*bids(0, 0, 0), "2H", "3H"])
    assert state.current_player == 2
    assert state.legal_actions() == cards("2D AS")
    state.apply(card("2D"))
    assert state.known_voids(2) == [HEARTS]


def test_a_card_not_in_hand_is_illegal():
    state = play(three_hands("AC 2H", "KC 3H", "2C AS"), bids(0, 0, 0))
    assert_illegal(state, card("KC"), "player 0", "does not hold")
    state.apply(card("AC"))
    assert_illegal(state, card("AC"), "player 1", "does not hold")  # already played


def test_a_bid_after_bidding_is_over_is_illegal():
    state = play(three_hands("AC 2H", "KC 3H", "2C AS"), bids(0, 0, 0))
    assert_illegal(state, bid(0), "bid 0", "player 0", "bidding is over")


def test_failing_to_follow_suit_makes_the_void_public():
    state = play(three_hands("AC 2H", "KC 3D", "2C AS"), [*bids(0, 0, 0), "AC", "KC", "2C"])
    assert [state.known_voids(p) for p in range(3)] == [[], [], []]
    play(state, ["2H", "3D"])
    assert state.known_voids(1) == [HEARTS]
    assert state.known_voids(0) == []


def test_current_trick_lists_seat_and_card_in_play_order():
    state = play(three_hands("AC 2H", "KC 3D", "2C AS"), [*bids(0, 0, 0), "AC", "KC"])
    assert state.current_trick == [(0, card("AC")), (1, card("KC"))]
    assert state.led_suit == CLUBS
    state.apply(card("2C"))
    assert state.current_trick == []
    assert state.led_suit is None


# ---- who wins a trick -------------------------------------------------------------------------
def first_trick_winner(
    hands: tuple[str, str, str], trump: int | None, lead_and_follow: list[str]
) -> int:
    """Seat that wins the first trick of a one-card-each deal."""
    state = play(three_hands(*hands, trump=trump), [*bids(0, 0, 0), *lead_and_follow])
    assert state.is_terminal()
    (winner,) = [seat for seat, won in enumerate(state.tricks_won) if won]
    return winner


def test_highest_card_of_the_led_suit_wins_without_trumps():
    assert first_trick_winner(("5C", "KC", "9C"), HEARTS, ["5C", "KC", "9C"]) == 1


def test_trump_beats_the_led_suit():
    assert first_trick_winner(("AC", "2H", "KC"), HEARTS, ["AC", "2H", "KC"]) == 1


def test_highest_trump_wins_when_several_are_played():
    assert first_trick_winner(("AC", "2H", "3H"), HEARTS, ["AC", "2H", "3H"]) == 2


def test_a_led_trump_beats_higher_cards_of_other_suits():
    assert first_trick_winner(("5H", "AC", "4H"), HEARTS, ["5H", "AC", "4H"]) == 0


def test_off_suit_card_that_is_not_trump_never_wins():
    assert first_trick_winner(("2C", "AS", "3C"), HEARTS, ["2C", "AS", "3C"]) == 2
    assert first_trick_winner(("2C", "AS", "AD"), HEARTS, ["2C", "AS", "AD"]) == 0


def test_no_trump_hand_is_won_by_the_led_suit_only():
    # The ace of hearts would trump in a hearts hand; without trump it is a discard.
    assert first_trick_winner(("2C", "AH", "3C"), None, ["2C", "AH", "3C"]) == 2
    assert first_trick_winner(("2C", "AH", "3C"), HEARTS, ["2C", "AH", "3C"]) == 1


def test_winner_leads_the_next_trick():
    state = play(three_hands("2C 2H", "AC 3D", "KC AS"), [*bids(0, 0, 0), "2C", "AC", "KC"])
    assert state.tricks_won == [0, 1, 0]
    assert state.current_player == 1
    assert state.trick_leader == 1
    assert_illegal(state, card("2H"), "player 1", "does not hold")
    play(state, ["3D", "AS", "2H"])  # seat 1 leads diamonds; seat 0 trumps with the 2 of hearts
    assert state.tricks_won == [1, 1, 0]
    assert state.is_terminal()


# ---- the end of the hand and scoring ----------------------------------------------------------
WHOLE_HAND = [*bids(1, 0, 0), *cards("AC KC 2C 2H 3D AS")]


def test_a_hand_ends_after_every_card_is_played():
    state = play(three_hands("AC 2H", "KC 3D", "2C AS"), WHOLE_HAND)
    assert state.is_terminal()
    assert state.current_player == -1
    assert state.legal_actions() == []
    assert not state.legal_mask().any()
    assert state.tricks_won == [2, 0, 0]
    assert state.history == WHOLE_HAND
    assert [state.hand(p) for p in range(3)] == [[], [], []]


def test_no_action_is_legal_once_the_hand_is_over():
    state = play(three_hands("AC 2H", "KC 3D", "2C AS"), WHOLE_HAND)
    assert_illegal(state, bid(0), "bid 0", "the hand is over")
    assert_illegal(state, card("AC"), "the hand is over")


def test_blob_scoring_gives_ten_plus_bid_for_an_exact_bid_and_nothing_otherwise():
    # Bids 1, 0, 0; seat 0 takes both tricks (missed), seats 1 and 2 take none (exact zero bids).
    state = play(three_hands("AC 2H", "KC 3D", "2C AS"), WHOLE_HAND)
    assert state.scores() == [0, 10, 10]
    exact = play(three_hands("AC 2H", "KC 3D", "2C AS"), [*bids(2, 0, 1), *WHOLE_HAND[3:]])
    assert exact.scores() == [12, 10, 0]


def test_oh_hell_scoring_gives_a_point_per_trick_plus_ten_for_an_exact_bid():
    state = play(three_hands("AC 2H", "KC 3D", "2C AS", scoring="oh_hell"), WHOLE_HAND)
    assert state.scores() == [2, 10, 10]
    exact = play(
        three_hands("AC 2H", "KC 3D", "2C AS", scoring="oh_hell"), [*bids(2, 0, 1), *WHOLE_HAND[3:]]
    )
    assert exact.scores() == [12, 10, 0]


# ---- malformed actions ------------------------------------------------------------------------
@pytest.mark.parametrize("action", [-1, 65, 1000, 2**70])
def test_an_action_id_out_of_range_is_illegal(action):
    state = three_hands("AC 2H", "KC 3D", "2C AS")
    assert_illegal(state, action, str(action), "player 0", "action ids are 0..64")


@pytest.mark.parametrize("action", [1.0, "52", None, True])
def test_an_action_that_is_not_an_integer_is_illegal(action):
    state = three_hands("AC 2H", "KC 3D", "2C AS")
    before = state.vector.copy()
    with pytest.raises(IllegalActionError, match="integer id"):
        state.apply(action)
    np.testing.assert_array_equal(state.vector, before)


def test_numpy_integer_actions_are_accepted():
    state = three_hands("AC 2H", "KC 3D", "2C AS")
    state.apply(np.int64(bid(1)))
    assert state.bids == [1, None, None]
