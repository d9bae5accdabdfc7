"""Properties of whole hands played at random, at every feasible (N, C), every trump mode and both
scorings: what must hold after any sequence of legal actions, and that illegal ones change nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blobrl.game import (
    BID_BASE,
    NUM_ACTIONS,
    STATE_SIZE,
    IllegalActionError,
    feasible_deals,
    new_game,
)
from blobrl.game import core as kernels
from blobrl.game.checks import TRUMP_MODES
from blobrl.game.rng import seed_streams

from .builders import play_randomly

FEASIBLE = feasible_deals()
HANDS_BIDS_TRICKS = (kernels.F_HANDS, kernels.F_BIDS, kernels.F_TRICKS)


@st.composite
def fresh_hands(draw):
    """A new hand at a random feasible (N, C), trump mode and scoring, plus a seed for play."""
    n, c = draw(st.sampled_from(FEASIBLE))
    state = new_game(
        n,
        c,
        seed=draw(st.integers(0, 2**32 - 1)),
        trump_mode=draw(st.sampled_from(TRUMP_MODES)),
        scoring=draw(st.sampled_from(["blob", "oh_hell"])),
    )
    return state, draw(st.integers(0, 2**32 - 1))


def expected_trick_winner(trick: list[tuple[int, int]], trump: int | None) -> int:
    """RULES.md: the highest trump in the trick, else the highest card of the led suit."""
    led = trick[0][1] // 13
    trumps = [(card, seat) for seat, card in trick if card // 13 == trump]
    followers = [(card, seat) for seat, card in trick if card // 13 == led]
    return max(trumps or followers)[1]


def expected_score(bid: int, won: int, scoring: str) -> int:
    exact = bid == won
    if scoring == "blob":
        return 10 + bid if exact else 0
    return won + (10 if exact else 0)


def assert_rejected(state, action: int) -> None:
    before = state.vector.copy()
    try:
        state.apply(action)
    except IllegalActionError:
        assert np.array_equal(state.vector, before), f"rejected {action} changed {state!r}"
    else:
        pytest.fail(f"illegal action {action} was accepted in {state!r}")


@settings(max_examples=1500, deadline=None)
@given(fresh_hands())
def test_random_hands_keep_every_invariant_of_a_hand(case):
    state, seed = case
    rng = np.random.default_rng(seed)
    n, c = state.num_players, state.num_cards
    dealt = {p: set(state.hand(p)) for p in range(n)}
    played_by: dict[int, int] = {}
    while not state.is_terminal():
        legal = state.legal_actions()
        assert legal, "no legal action before the end of the hand"
        assert np.flatnonzero(state.legal_mask()).tolist() == legal
        player = state.current_player
        if state.phase == "bidding":
            assert all(a >= BID_BASE for a in legal)
        else:
            hand, led = state.hand(player), state.led_suit
            following = [x for x in hand if x // 13 == led]
            assert legal == (following or hand)
        illegal = sorted(set(range(NUM_ACTIONS)) - set(legal))
        assert_rejected(state, illegal[int(rng.integers(len(illegal)))])

        action = legal[int(rng.integers(len(legal)))]
        closing = state.phase == "play" and len(state.current_trick) == n - 1
        trick = [*state.current_trick, (player, action)]
        won_before = state.tricks_won
        state.apply(action)
        assert state.history[-1] == action
        if action < BID_BASE:
            assert action not in played_by
            played_by[action] = player
        if closing:
            winner = expected_trick_winner(trick, state.trump)
            gained = np.subtract(state.tricks_won, won_before).tolist()
            assert gained == [int(p == winner) for p in range(n)]
            if not state.is_terminal():
                assert state.current_player == winner == state.trick_leader

    assert state.legal_actions() == []
    assert state.current_player == -1
    assert len(state.history) == n + n * c
    assert all(played_by[x] == p for p in range(n) for x in dealt[p])
    assert len(played_by) == n * c
    assert all(state.hand(p) == [] for p in range(n))
    assert sum(state.tricks_won) == c
    outcome = zip(state.bids, state.tricks_won, strict=True)
    assert state.scores() == [expected_score(b, w, state.scoring) for b, w in outcome]


@settings(max_examples=100, deadline=None)
@given(fresh_hands())
def test_every_illegal_action_raises_and_leaves_the_state_unchanged(case):
    state, seed = case
    rng = np.random.default_rng(seed)
    while True:
        legal = set(state.legal_actions())
        before = state.vector.copy()
        for action in range(-1, NUM_ACTIONS + 1):
            if action in legal:
                state.clone().apply(action)
                continue
            try:
                state.apply(action)
            except IllegalActionError:
                continue
            pytest.fail(f"illegal action {action} was accepted in {state!r}")
        np.testing.assert_array_equal(state.vector, before)
        if state.is_terminal():
            break
        play_randomly(state, rng, steps=1)


@settings(max_examples=500, deadline=None)
@given(fresh_hands(), st.floats(0.0, 1.0))
def test_a_clone_is_independent_of_its_original(case, fraction):
    state, seed = case
    rng = np.random.default_rng(seed)
    total = state.num_players * (state.num_cards + 1)
    play_randomly(state, rng, steps=int(fraction * total))
    snapshot = state.vector.copy()
    copy = state.clone()
    np.testing.assert_array_equal(copy.vector, snapshot)
    play_randomly(copy, rng)
    np.testing.assert_array_equal(state.vector, snapshot)
    copy_at_end = copy.vector.copy()
    play_randomly(state, rng)
    np.testing.assert_array_equal(copy.vector, copy_at_end)


# ---- kernel playouts: many hands at every feasible deal ---------------------------------------
@pytest.mark.parametrize(("n", "c"), FEASIBLE)
def test_kernel_playouts_play_every_card_once_and_share_out_every_trick(n, c):
    """A thousand random hands per deal through the kernels the search uses."""
    rs = seed_streams(n * 1000 + c)
    state = np.zeros(STATE_SIZE, np.int64)
    scores = np.zeros(kernels.MAX_PLAYERS)
    seats = slice(0, n)
    hands, bids, tricks = (state[field:][seats] for field in HANDS_BIDS_TRICKS)
    owner = state[kernels.F_OWNER :][:52]
    history = state[kernels.F_HIST :][: n + n * c]
    card_bits = np.int64(1) << np.arange(52)
    for _ in range(1000):
        kernels.random_deal(state, n, c, rs, 0, kernels.SCORING_BLOB)
        dealt_to = np.full(52, -1)
        for p, hand in enumerate(hands):
            dealt_to[(hand & card_bits) != 0] = p
        kernels.random_playout(state, rs, 0)
        assert state[kernels.F_PHASE] == kernels.PHASE_TERMINAL
        assert state[kernels.F_HISTLEN] == n + n * c
        assert np.array_equal(owner, dealt_to)  # every dealt card played once, by its holder
        assert not hands.any()
        played = np.sort(history[history < BID_BASE])
        assert np.array_equal(played, np.flatnonzero(dealt_to >= 0))
        assert tricks.sum() == c
        assert bids.sum() != c  # the hook
        kernels.scores(state, scores)
        outcome = zip(bids.tolist(), tricks.tolist(), strict=True)
        assert scores[:n].tolist() == [expected_score(b, t, "blob") for b, t in outcome]
