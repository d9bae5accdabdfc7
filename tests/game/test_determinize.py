"""Determinization (RULES.md, Information): every sampled world is one the viewer cannot rule out,
and without voids every such world is equally likely."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blobrl.game import GameError, determinize, feasible_deals, from_deal, new_game
from blobrl.game import core as kernels
from blobrl.game.checks import TRUMP_MODES

from .builders import bids, cards, play, play_randomly

CLUBS, DIAMONDS, HEARTS, SPADES = 0, 1, 2, 3


def assert_possible_world(original, world, viewer: int) -> None:
    """``world`` agrees with everything ``viewer`` knows in ``original`` (and is a legal deal)."""
    n = original.num_players
    hands_at = slice(kernels.F_HANDS, kernels.F_HANDS + n)
    public = np.ones(kernels.STATE_SIZE, bool)
    public[hands_at] = False
    public[kernels.F_HANDS + viewer] = True
    assert np.array_equal(world.vector[public], original.vector[public])
    assert world.hand(viewer) == original.hand(viewer)
    played = {card for card in world.history if card < kernels.BID_BASE}
    seen = set(world.hand(viewer)) | played | {world.turned_up} - {None}
    held: set[int] = set()
    for p in range(n):
        hand = set(world.hand(p))
        assert len(hand) == len(original.hand(p)), f"seat {p} has the wrong number of cards"
        assert not hand & held, "a card is in two hands"
        held |= hand
        if p != viewer:
            assert not hand & seen, f"seat {p} holds a card the viewer has seen"
            void = set(original.known_voids(p))
            assert not {card // 13 for card in hand} & void, f"seat {p} holds a suit it lacks"


def void_heavy_position():
    """Three players, hearts trump, after five tricks: seat 1 has shown it holds no clubs or
    diamonds, seat 2 no hearts or spades. For seat 0 the 30 unseen cards are 15 hearts or spades
    and 15 clubs or diamonds; dealing 7 of each to the right seat at random succeeds about once in
    12,000 tries, so the sampler has to fall back to its guarded sequential dealer."""
    state = from_deal(
        [
            cards("2C 3C 4C 2D 3D 4D 2H 3H 4H 2S 3S AS"),
            cards("5H 6H 7H 8H 9H 10H 5S 6S 7S 8S 9S 10S"),
            cards("5C 6C 7C 8C 9C 10C 5D 6D 7D 8D 9D 10D"),
        ],
        dealer=2,
        trump=HEARTS,
    )
    tricks = "2C 5H 5C  6H 6C 2H  5S 7C 2S  6S 8C AS  2D 7H 5D"
    return play(state, [*bids(0, 0, 0), *cards(tricks)])


def test_void_heavy_position_shows_the_voids_it_is_built_for():
    state = void_heavy_position()
    assert state.known_voids(1) == [CLUBS, DIAMONDS]
    assert state.known_voids(2) == [HEARTS, SPADES]
    assert state.current_player == 1
    assert [len(state.hand(p)) for p in range(3)] == [7, 7, 7]


def test_worlds_for_a_void_heavy_position_are_always_possible_and_cover_every_candidate():
    state = void_heavy_position()
    rng = np.random.default_rng(0)
    unseen = set(range(52)) - set(state.hand(0)) - set(state.history)
    reached = {1: set(), 2: set()}
    for _ in range(400):
        world = determinize(state, rng, 0)
        assert_possible_world(state, world, viewer=0)
        for p in (1, 2):
            reached[p] |= set(world.hand(p))
    assert reached[1] == {x for x in unseen if x // 13 in (HEARTS, SPADES)}
    assert reached[2] == {x for x in unseen if x // 13 in (CLUBS, DIAMONDS)}


@pytest.mark.parametrize("viewer", [0, 1, 2])
def test_every_seat_can_determinize_the_void_heavy_position(viewer):
    state = void_heavy_position()
    rng = np.random.default_rng(viewer)
    for _ in range(100):
        world = determinize(state, rng, viewer)
        assert_possible_world(state, world, viewer)
        play_randomly(world, rng)  # the world is a playable hand


def test_a_seat_void_in_three_suits_gets_only_the_fourth():
    # Seat 1 discards on clubs, diamonds and hearts leads, so it can hold only spades; seat 2
    # then needs 3 of the remaining non-spades.
    state = from_deal(
        [
            cards("AC AD AH AS KC KD"),
            cards("4S 5S 6S 7S 8S 9S"),
            cards("4C 4D 4H 5C 5D 5H"),
        ],
        dealer=2,
        trump=None,
    )
    play(state, [*bids(0, 0, 1), *cards("AC 4S 4C  AD 5S 4D  AH 6S 4H")])
    assert state.known_voids(1) == [CLUBS, DIAMONDS, HEARTS]
    rng = np.random.default_rng(5)
    for _ in range(200):
        world = determinize(state, rng, 0)
        assert_possible_world(state, world, viewer=0)
        assert all(card // 13 == SPADES for card in world.hand(1))


@st.composite
def positions(draw):
    """A random position (any feasible deal, trump mode, point in the hand) and a viewer."""
    n, c = draw(st.sampled_from(feasible_deals()))
    state = new_game(
        n,
        c,
        seed=draw(st.integers(0, 2**32 - 1)),
        trump_mode=draw(st.sampled_from(TRUMP_MODES)),
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    play_randomly(state, rng, steps=draw(st.integers(0, n + n * c - 1)))
    return state, draw(st.integers(0, n - 1)), rng


@settings(max_examples=400, deadline=None)
@given(positions())
def test_determinized_worlds_are_consistent_with_what_the_viewer_knows(case):
    state, viewer, rng = case
    before = state.vector.copy()
    for _ in range(5):
        world = determinize(state, rng, viewer)
        assert_possible_world(state, world, viewer)
        assert np.array_equal(state.vector, before), "determinize changed its input"
    play_randomly(world, rng)


def test_worlds_are_drawn_uniformly_when_nobody_has_shown_a_void():
    """4 x 12 with 4 cards left in the stock; seat 0 has led and seat 1 followed. Seat 2 cannot
    see 38 cards: seats 0 and 1 hold 11 of them, seat 3 holds 12 and the stock the last 4. In a
    uniform draw each unseen card lies with each seat in proportion to those counts."""
    hands = [list(range(p, 48, 4)) for p in range(4)]
    state = play(from_deal(hands, dealer=3, trump=None), [*bids(0, 0, 0, 0), 0, 1])
    assert all(state.known_voids(p) == [] for p in range(4))
    unseen = sorted(set(range(52)) - set(state.hand(2)) - {0, 1})
    assert len(unseen) == 38
    draws = 4000
    counts = np.zeros((4, 52))
    rng = np.random.default_rng(1)
    for _ in range(draws):
        world = determinize(state, rng, 2)
        for p in (0, 1, 3):
            counts[p, world.hand(p)] += 1
    expected = {0: 11 / 38, 1: 11 / 38, 3: 12 / 38}
    for p, share in expected.items():
        observed = counts[p, unseen] / draws
        assert np.abs(observed - share).max() < 0.035, (p, observed)
    stock_share = 1 - counts[:, unseen].sum(axis=0) / draws
    assert np.abs(stock_share - 4 / 38).max() < 0.03
    assert counts[:, 48:].sum() > 0, "cards never dealt must be possible in the opponents' hands"


def test_undealt_cards_are_indistinguishable_from_held_ones():
    # Five players of two cards: 42 cards stayed in the pack, and the viewer cannot tell which.
    state = new_game(5, 2, seed=3)
    viewer = state.current_player
    rng = np.random.default_rng(2)
    reached: set[int] = set()
    for _ in range(1000):
        world = determinize(state, rng)
        reached |= {x for p in range(5) if p != viewer for x in world.hand(p)}
    assert reached == set(range(52)) - set(state.hand(viewer))


def test_determinize_is_reproducible_from_a_seed():
    state = void_heavy_position()
    a, b = determinize(state, 7, 0), determinize(state, 7, 0)
    assert np.array_equal(a.vector, b.vector)


def test_determinize_defaults_to_the_player_to_act():
    state = void_heavy_position()
    world = determinize(state, 0)
    assert world.hand(1) == state.hand(1)
    assert_possible_world(state, world, viewer=1)


def test_a_finished_hand_has_nothing_to_hide():
    state = new_game(4, 3, seed=0)
    play_randomly(state, np.random.default_rng(0))
    assert np.array_equal(determinize(state, 0, 2).vector, state.vector)
    with pytest.raises(GameError, match="viewer must be a seat"):
        determinize(state, 0)  # nobody is to act


@pytest.mark.parametrize("viewer", [-1, 4])
def test_viewer_must_be_a_seat(viewer):
    with pytest.raises(GameError, match=r"viewer must be a seat 0\.\.3"):
        determinize(new_game(4, 3, seed=0), 0, viewer)
