"""The public BlobState API and the raw kernels play the same game.

BlobState keeps Python-side copies of what its vector implies (the legal set of the position, a
memoryview) so that an agent's loop crosses into numba once per move. These tests drive random
hands through the API and through the kernels (``blobrl.game.core``) from the same seeds and
require the same legal sets, the same actions, the same rejections (exception and message), the
same vectors and scores at every step, clones included.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blobrl.game import (
    BID_BASE,
    NUM_ACTIONS,
    STATE_SIZE,
    BlobState,
    GameError,
    IllegalActionError,
    action_name,
    card_name,
    feasible_deals,
    legal,
    new_game,
)
from blobrl.game import core as kernels
from blobrl.game.checks import TRUMP_MODES
from blobrl.game.names import SUIT_NAMES

FEASIBLE = feasible_deals()


@st.composite
def deals(draw):
    """Arguments of a random ``new_game`` at a feasible (N, C), plus a seed for the play."""
    n, c = draw(st.sampled_from(FEASIBLE))
    kwargs = {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "trump_mode": draw(st.sampled_from(TRUMP_MODES)),
        "scoring": draw(st.sampled_from(["blob", "oh_hell"])),
    }
    return n, c, kwargs, draw(st.integers(0, 2**32 - 1))


def kernel_legal(vec: np.ndarray) -> list[int]:
    buf = np.empty(NUM_ACTIONS, np.int64)
    return buf[: kernels.legal_actions(vec, buf)].tolist()


def kernel_scores(vec: np.ndarray) -> list[int]:
    out = np.zeros(kernels.MAX_PLAYERS)
    kernels.scores(vec, out)
    return [int(x) for x in out[: vec[kernels.F_N]]]


def expected_message(vec: np.ndarray, action: int, err: int) -> str:
    """The message of each kernel error code (RULES.md: an illegal action is an error that names
    the action, the player and the reason)."""
    name = action_name(action)
    if err == kernels.ERR_TERMINAL:
        return f"illegal action {action} ({name}): the hand is over"
    who, c = int(vec[kernels.F_PLAYER]), int(vec[kernels.F_C])
    reasons = {
        kernels.ERR_RANGE: "action ids are 0..64",
        kernels.ERR_BID_IN_PLAY: "bidding is over; play a card",
        kernels.ERR_CARD_IN_BIDDING: "cards are played only after everyone has bid",
        kernels.ERR_BID_TOO_HIGH: f"bids are 0..{c} in a {c}-card hand",
        kernels.ERR_HOOK: (
            f"the dealer may not bid {action - BID_BASE}: the bids would sum to {c}, the number "
            f"of cards (earlier bids sum to {int(vec[kernels.F_BIDSUM])})"
        ),
    }
    if err in reasons:
        reason = reasons[err]
    elif err == kernels.ERR_NOT_IN_HAND:
        reason = f"player {who} does not hold {card_name(action)}"
    else:
        assert err == kernels.ERR_MUST_FOLLOW
        reason = f"player {who} must follow {SUIT_NAMES[int(vec[kernels.F_LED])]}"
    return f"illegal action {action} ({name}) for player {who}: {reason}"


def assert_same_position(state: BlobState, vec: np.ndarray) -> None:
    """Everything the API says about ``state`` is what the kernel vector ``vec`` says."""
    np.testing.assert_array_equal(state.vector, vec)
    n = int(vec[kernels.F_N])
    assert state.legal_actions() == kernel_legal(vec)
    assert state.current_player == int(vec[kernels.F_PLAYER])
    assert state.is_terminal() == (vec[kernels.F_PHASE] == kernels.PHASE_TERMINAL)
    assert state.phase == ("bidding", "play", "terminal")[int(vec[kernels.F_PHASE])]
    assert state.history == vec[kernels.F_HIST : kernels.F_HIST + vec[kernels.F_HISTLEN]].tolist()
    assert state.tricks_won == vec[kernels.F_TRICKS : kernels.F_TRICKS + n].tolist()
    assert state.bids == [None if b < 0 else b for b in vec[kernels.F_BIDS :][:n].tolist()]
    for p in range(n):
        mask = int(vec[kernels.F_HANDS + p])
        assert state.hand(p) == [c for c in range(52) if mask >> c & 1]
        voids = int(vec[kernels.F_VOIDS + p])
        assert state.known_voids(p) == [s for s in range(4) if voids >> s & 1]
    assert state.scores() == kernel_scores(vec)
    assert all(type(x) is int for x in [state.current_player, *state.history, *state.tricks_won])


def assert_rejects_like_the_kernels(state: BlobState, vec: np.ndarray) -> None:
    """Every action outside the legal set (and a few non-ids) raises what the kernel code says,
    and leaves the state as it was."""
    legal = set(kernel_legal(vec))
    for action in [-1, *range(NUM_ACTIONS), NUM_ACTIONS, 2**70]:
        if action in legal:
            continue
        err = kernels.check_action(vec, action) if 0 <= action < NUM_ACTIONS else kernels.ERR_RANGE
        assert err != kernels.OK
        with pytest.raises(IllegalActionError) as caught:
            state.apply(action)
        assert str(caught.value) == expected_message(vec, action, err)
        assert np.array_equal(state.vector, vec), f"rejected {action} changed {state!r}"
    for not_an_id in (True, 1.0, "52", None):
        with pytest.raises(IllegalActionError, match=r"action must be an integer id 0\.\.64"):
            state.apply(not_an_id)  # type: ignore[arg-type]
    np.testing.assert_array_equal(state.vector, vec)


def step_both(state: BlobState, vec: np.ndarray, action: int) -> None:
    state.apply(action)
    assert kernels.apply_action(vec, action) == kernels.OK


@settings(max_examples=100, deadline=None)
@given(deals(), st.floats(0.0, 1.0))
def test_api_and_kernels_agree_move_by_move_and_across_a_clone(case, branch_at):
    n, c, kwargs, seed = case
    state = new_game(n, c, **kwargs)
    vec = state.vector.copy()  # the kernels' own copy of the game
    rng = np.random.default_rng(seed)
    branch_step = int(branch_at * n * (c + 1))
    step = 0
    while True:
        assert_same_position(state, vec)
        assert_rejects_like_the_kernels(state, vec)
        if step == branch_step:
            copy, copy_vec = state.clone(), vec.copy()
            branch_rng = np.random.default_rng(seed + 1)
            # The original moves first: its clone's cached legal set must not follow it.
            if not state.is_terminal():
                legal = kernel_legal(vec)
                step_both(state, vec, legal[int(rng.integers(len(legal)))])
                assert_same_position(state, vec)
                step += 1
            while not copy.is_terminal():
                assert_same_position(copy, copy_vec)
                legal = kernel_legal(copy_vec)
                step_both(copy, copy_vec, legal[int(branch_rng.integers(len(legal)))])
            assert_same_position(copy, copy_vec)
            assert_rejects_like_the_kernels(copy, copy_vec)
            assert_same_position(state, vec)  # the branch played out, the original untouched
        if state.is_terminal():
            break
        legal = state.legal_actions()
        step_both(state, vec, legal[int(rng.integers(len(legal)))])
        step += 1
    assert state.scores() == kernel_scores(vec)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(("n", "c"), [(5, 7), (3, 1), (8, 6), (4, 12)])
def test_api_and_kernel_playouts_from_one_seed_make_the_same_hand(n, c, seed):
    """Two independent runs, one through the API only, one through the kernels only."""
    state = new_game(n, c, seed=seed, trump_mode="turn_up")
    vec = state.vector.copy()
    api_rng, kernel_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    api_actions, api_legal = [], []
    while not state.is_terminal():
        legal = state.legal_actions()
        api_legal.append(legal)
        api_actions.append(legal[int(api_rng.integers(len(legal)))])
        state.apply(api_actions[-1])
    kernel_actions, kernel_legal_sets = [], []
    while vec[kernels.F_PHASE] != kernels.PHASE_TERMINAL:
        legal = kernel_legal(vec)
        kernel_legal_sets.append(legal)
        kernel_actions.append(legal[int(kernel_rng.integers(len(legal)))])
        assert kernels.apply_action(vec, kernel_actions[-1]) == kernels.OK
    assert api_actions == kernel_actions == state.history
    assert api_legal == kernel_legal_sets
    assert state.scores() == kernel_scores(vec)
    np.testing.assert_array_equal(state.vector, vec)


def test_moves_made_on_the_shared_vector_by_the_kernels_are_seen():
    """Tools may advance ``state.vector`` with the kernels directly (as the evaluator skips
    forced moves); the API must not answer from what it knew before."""
    state = new_game(4, 3, seed=5)
    rng = np.random.default_rng(5)
    while not state.is_terminal():
        legal = state.legal_actions()  # cached for this position
        action = legal[int(rng.integers(len(legal)))]
        assert kernels.apply_action(state.vector, action) == kernels.OK
        assert state.legal_actions() == kernel_legal(state.vector)
        assert state.current_player == int(state.vector[kernels.F_PLAYER])
    assert state.legal_actions() == []
    with pytest.raises(IllegalActionError, match="the hand is over"):
        state.apply(0)


def test_numpy_integer_ids_are_accepted_like_ints():
    a, b = new_game(5, 7, seed=9), new_game(5, 7, seed=9)
    while not a.is_terminal():
        action = a.legal_actions()[-1]
        a.apply(action)
        b.apply(np.int64(action) if action % 2 else np.uint8(action))
    np.testing.assert_array_equal(a.vector, b.vector)
    assert a.hand(np.int64(0)) == b.hand(0) == []


@given(st.integers(0, 2**52 - 1))
def test_a_card_mask_unpacks_to_its_set_bits_in_order(mask):
    assert legal.cards_of(mask) == [c for c in range(52) if mask >> c & 1]


def test_every_bid_chunk_unpacks_to_its_bid_actions():
    for chunk in range(legal.CHUNK + 1):
        expected = tuple(BID_BASE + b for b in range(13) if chunk >> b & 1)
        assert legal.BID_IDS[chunk] == expected


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(FEASIBLE), st.integers(0, 2**32 - 1))
def test_a_seed_deals_the_shuffled_pack_in_seat_order(deal, seed):
    """``new_game(seed=s)`` deals ``default_rng(s).permutation(52)``, ``c`` cards a seat in
    order, then draws the trump and the dealer: runs and evaluation deal sets name deals by seed."""
    n, c = deal
    rng = np.random.default_rng(seed)
    deck = rng.permutation(52)
    trump, dealer = int(rng.integers(5)), int(rng.integers(n))
    state = new_game(n, c, seed=seed)
    for seat in range(n):
        assert state.hand(seat) == sorted(deck[seat * c : (seat + 1) * c].tolist())
    assert (state.trump, state.dealer) == (None if trump == 4 else trump, dealer)


def test_a_state_survives_pickling_and_keeps_playing():
    state = new_game(5, 7, seed=3)
    for _ in range(8):
        state.apply(state.legal_actions()[0])
    copy = pickle.loads(pickle.dumps(state))
    np.testing.assert_array_equal(copy.vector, state.vector)
    assert copy.legal_actions() == state.legal_actions()
    copy.apply(copy.legal_actions()[0])
    assert len(copy.history) == len(state.history) + 1


@pytest.mark.parametrize(
    "vector",
    [
        np.zeros(STATE_SIZE, np.float64),
        np.zeros(STATE_SIZE, np.int32),
        np.zeros((2, STATE_SIZE), np.int64),
        np.zeros(2 * STATE_SIZE, np.int64)[::2],
        np.zeros(STATE_SIZE + 1, np.int64),
    ],
    ids=["float", "int32", "2d", "strided", "long"],
)
def test_a_state_wraps_only_a_contiguous_int64_state_vector(vector):
    with pytest.raises(GameError, match="a state vector is a writable, contiguous int64"):
        BlobState(vector)


def test_a_read_only_vector_is_refused():
    vec = new_game(3, 2, seed=0).vector.copy()
    vec.flags.writeable = False
    with pytest.raises(GameError, match="writable"):
        BlobState(vec)
