"""The information-state encoding: fixed size, seats relative to the viewer, and nothing in it that
the viewer could not know."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blobrl.data import CONT_INDEX
from blobrl.data.wire import WIRE_BIT_BYTES, encode_wire
from blobrl.game import (
    FEATURES,
    NUM_ACTIONS,
    GameError,
    determinize,
    encode,
    feasible_deals,
    from_deal,
    new_game,
)
from blobrl.game import encoding as enc
from blobrl.game.checks import TRUMP_MODES

from .builders import bids, card, cards, play, play_randomly

HEARTS = 2
# Four players, dealer 1 (seat 2 leads), hearts trump. Seat 1 discards the 5 of spades on a club
# lead, seat 3 wins with the jack of clubs and leads the queen of diamonds; seat 0 follows and
# seat 1 is to act.
HANDS = ["2C 3D 4H", "5S 6D 7H", "8C 9D 10H", "JC QD KS"]
ACTIONS = [*bids(1, 0, 1, 0), *cards("8C JC 2C 5S  QD 3D")]


def position(hands=HANDS, *, dealer: int = 1):
    return play(from_deal([cards(h) for h in hands], dealer=dealer, trump=HEARTS), ACTIONS)


def block(features: np.ndarray, offset: int, rows: int = 1, width: int = 52) -> np.ndarray:
    return features[offset : offset + rows * width].reshape(rows, width)


def seat_block(features: np.ndarray, rel: int) -> np.ndarray:
    start = enc.OFF_SEATS + rel * enc.SEAT_FEATURES
    return features[start : start + enc.SEAT_FEATURES]


def test_the_position_is_what_the_encoding_tests_assume():
    state = position()
    assert state.bids == [1, 0, 1, 0]
    assert state.tricks_won == [0, 0, 0, 1]
    assert state.current_player == 1
    assert state.current_trick == [(3, card("QD")), (0, card("3D"))]
    assert state.known_voids(1) == [0]


def test_encoding_is_a_fixed_size_float_vector_at_every_deal():
    assert FEATURES == enc.OFF_SCALARS + 4 == 1162
    for n, c in feasible_deals():
        state = new_game(n, c, seed=n + c)
        features = encode(state)
        assert features.shape == (FEATURES,) and features.dtype == np.float32
        assert np.isfinite(features).all()


@pytest.mark.parametrize("viewer", range(4))
def test_own_hand_bits_are_the_viewers_cards(viewer):
    state = position()
    hand = block(encode(state, viewer), enc.OFF_HAND)[0]
    assert np.flatnonzero(hand).tolist() == state.hand(viewer)


@pytest.mark.parametrize("viewer", range(4))
def test_played_cards_are_marked_with_the_relative_seat_that_played_them(viewer):
    state = position()
    played = block(encode(state, viewer), enc.OFF_PLAYED, rows=8)
    expected = np.zeros((8, 52))
    for seat, names in {2: "8C", 3: "JC QD", 0: "2C 3D", 1: "5S"}.items():
        expected[(seat - viewer) % 4, cards(names)] = 1
    np.testing.assert_array_equal(played, expected)


@pytest.mark.parametrize("viewer", range(4))
def test_current_trick_holds_only_the_cards_of_the_trick_in_progress(viewer):
    features = encode(position(), viewer)
    trick = block(features, enc.OFF_TRICK, rows=8)
    expected = np.zeros((8, 52))
    expected[(3 - viewer) % 4, card("QD")] = 1
    expected[(0 - viewer) % 4, card("3D")] = 1
    np.testing.assert_array_equal(trick, expected)
    assert block(features, enc.OFF_LED, width=5)[0].tolist() == [0, 1, 0, 0, 0]  # diamonds led


@pytest.mark.parametrize("viewer", range(4))
def test_seat_blocks_start_at_the_viewer_and_go_clockwise(viewer):
    features = encode(position(), viewer)
    bid_of = [1, 0, 1, 0]
    tricks_of = [0, 0, 0, 1]
    cards_left = [1, 2, 2, 1]
    for rel in range(4):
        seat = (viewer + rel) % 4
        row = seat_block(features, rel)
        assert row[enc.SEAT_PRESENT] == 1
        assert row[enc.SEAT_DEALER] == (seat == 1)
        assert row[enc.SEAT_HAS_BID] == 1
        assert row[enc.SEAT_BID] == pytest.approx(bid_of[seat] / 3)
        assert row[enc.SEAT_TRICKS] == pytest.approx(tricks_of[seat] / 3)
        assert row[enc.SEAT_NEED] == pytest.approx((bid_of[seat] - tricks_of[seat]) / 3)
        assert row[enc.SEAT_CARDS_LEFT] == pytest.approx(cards_left[seat] / 3)
        assert row[enc.SEAT_LEADER] == (seat == 3)
        onehot = row[enc.SEAT_BID_ONEHOT : enc.SEAT_BID_ONEHOT + 12]
        assert np.flatnonzero(onehot).tolist() == [bid_of[seat]]
        voids = row[enc.SEAT_VOIDS : enc.SEAT_VOIDS + 4].tolist()
        assert voids == ([1, 0, 0, 0] if seat == 1 else [0, 0, 0, 0])
    for rel in range(4, 8):
        assert not seat_block(features, rel).any(), "seats beyond N must stay empty"


def test_table_wide_features_name_trump_phase_deal_size_and_progress():
    features = encode(position(), 0)
    assert block(features, enc.OFF_TRUMP, width=5)[0].tolist() == [0, 0, 1, 0, 0]
    assert not block(features, enc.OFF_TURNUP)[0].any()
    assert block(features, enc.OFF_PHASE, width=2)[0].tolist() == [0, 1]
    assert np.flatnonzero(block(features, enc.OFF_N, width=6)[0]).tolist() == [4 - 3]
    assert np.flatnonzero(block(features, enc.OFF_C, width=12)[0]).tolist() == [3 - 1]
    scalars = features[enc.OFF_SCALARS : enc.OFF_SCALARS + 4]
    np.testing.assert_allclose(scalars, [1 / 3, 2 / 3, -1 / 3, 2 / 4], rtol=1e-6)


def test_turned_up_card_and_no_trump_are_encoded():
    turned = from_deal([[0], [1], [2]], dealer=0, trump=3, turned_up=card("9S"))
    features = encode(turned, 1)
    assert np.flatnonzero(block(features, enc.OFF_TURNUP)[0]).tolist() == [card("9S")]
    assert block(features, enc.OFF_TRUMP, width=5)[0].tolist() == [0, 0, 0, 1, 0]
    no_trump = encode(from_deal([[0], [1], [2]], dealer=0, trump=None), 1)
    assert block(no_trump, enc.OFF_TRUMP, width=5)[0].tolist() == [0, 0, 0, 0, 1]
    bidding = block(no_trump, enc.OFF_PHASE, width=2)[0].tolist()
    assert bidding == [1, 0]


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_rotating_every_seat_leaves_each_players_view_unchanged(shift):
    original = position()
    rotated_hands = [HANDS[(p - shift) % 4] for p in range(4)]
    rotated = position(rotated_hands, dealer=(1 + shift) % 4)
    for viewer in range(4):
        np.testing.assert_array_equal(
            encode(original, viewer), encode(rotated, (viewer + shift) % 4)
        )


def test_hidden_hands_do_not_show_in_the_encoding():
    # Seats 2 and 3 swap the cards they have not played, and seat 2's 10 of hearts is replaced by
    # the ace, which was never dealt. Seats 0 and 1 cannot tell the two deals apart.
    other = position(["2C 3D 4H", "5S 6D 7H", "8C KS AH", "JC QD 9D"])
    for viewer in (0, 1):
        np.testing.assert_array_equal(encode(position(), viewer), encode(other, viewer))
    assert not np.array_equal(encode(position(), 2), encode(other, 2))


@st.composite
def positions(draw):
    n, c = draw(st.sampled_from(feasible_deals()))
    state = new_game(
        n, c, seed=draw(st.integers(0, 2**32 - 1)), trump_mode=draw(st.sampled_from(TRUMP_MODES))
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    play_randomly(state, rng, steps=draw(st.integers(0, n + n * c - 1)))
    return state, draw(st.integers(0, n - 1)), rng


@settings(max_examples=300, deadline=None)
@given(positions())
def test_worlds_that_differ_only_in_hidden_hands_encode_identically(case):
    state, viewer, rng = case
    features = encode(state, viewer)
    for _ in range(3):
        world = determinize(state, rng, viewer)
        np.testing.assert_array_equal(encode(world, viewer), features)


@settings(max_examples=100, deadline=None)
@given(positions())
def test_batch_encoding_matches_one_at_a_time(case):
    state, _, rng = case
    states = [state, state.clone()]
    play_randomly(states[1], rng, steps=3)
    states = [s for s in states if not s.is_terminal()]
    vectors = np.stack([s.vector for s in states])
    viewers = np.array([s.current_player for s in states], np.int64)
    features = np.zeros((len(states), FEATURES), np.float32)
    masks = np.zeros((len(states), NUM_ACTIONS), np.float32)
    enc.encode_batch(vectors, viewers, features, masks)
    for i, s in enumerate(states):
        np.testing.assert_array_equal(features[i], encode(s))
        np.testing.assert_array_equal(masks[i], s.legal_mask())


@settings(max_examples=300, deadline=None)
@given(positions())
def test_every_feature_but_the_continuous_ones_is_0_or_1(case):
    """What the position codec (blobrl.data) and the InferenceServer's wire format rely on to
    send a feature as one bit."""
    state, viewer, _ = case
    features = encode(state, viewer)
    flags = np.delete(features, CONT_INDEX)
    assert np.all((flags == 0) | (flags == 1))


@settings(max_examples=300, deadline=None)
@given(positions())
def test_the_wire_form_is_the_float_row_packed(case):
    """A search writes its leaves for a server straight in wire form (one encoder for both
    forms): the bits are numpy's packbits of the float row, the continuous values exact, and
    nothing of the row written before is left."""
    state, viewer, _ = case
    features = encode(state, viewer)
    bits = np.full(WIRE_BIT_BYTES, 0xFF, np.uint8)
    cont = np.full(CONT_INDEX.shape[0], np.nan, np.float32)
    encode_wire(state.vector, viewer, bits, cont)
    np.testing.assert_array_equal(bits, np.packbits(features != 0))
    np.testing.assert_array_equal(cont, features[CONT_INDEX])


def test_default_viewer_is_the_player_to_act():
    state = position()
    np.testing.assert_array_equal(encode(state), encode(state, 1))


@pytest.mark.parametrize("viewer", [-1, 4])
def test_viewer_must_be_a_seat(viewer):
    with pytest.raises(GameError, match="viewer must be a seat"):
        encode(position(), viewer)
