"""The searching player's value at a leaf comes from its own information state."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blobrl.game import MAX_PLAYERS, NUM_ACTIONS, new_game
from blobrl.game.encoding import OFF_HAND
from blobrl.mcts import SearchSettings, search


class ViewerHoldsCard:
    """Values say: the viewer (relative seat 0) scores 1 if it holds ``card``, every other seat
    0. Only the holder's own information state can tell that it holds the card. Records every
    batch of features it is asked about."""

    def __init__(self, card: int):
        self.card = card
        self.batches: list[np.ndarray] = []

    def __call__(self, features: np.ndarray):
        self.batches.append(features.copy())
        b = features.shape[0]
        values = np.zeros((b, MAX_PLAYERS), np.float32)
        values[:, 0] = features[:, OFF_HAND + self.card]
        return np.zeros((b, NUM_ACTIONS), np.float32), values


def bidding_position(seed: int):
    """A 4-player, 5-card hand at its first bid, and a card the bidder holds."""
    state = new_game(4, 5, seed=seed)
    return state, state.hand(state.current_player)[0]


@pytest.mark.parametrize("root", ["puct", "gumbel"])
def test_the_searcher_values_its_choices_knowing_its_own_hand(root):
    state, held = bidding_position(seed=1)
    with_view = SearchSettings(2, 24, root=root, dirichlet_weight=0.0, gumbel_actions=4)
    without = SearchSettings(
        2, 24, root=root, dirichlet_weight=0.0, gumbel_actions=4, searcher_view=False
    )
    a = search(state, ViewerHoldsCard(held), with_view, seed=0)
    b = search(state, ViewerHoldsCard(held), without, seed=0)
    # Every leaf before the bidder's card leaves its hand says "I score 1" from its own view;
    # from the other bidders' views the bidder's seat is worth 0.
    assert a.value[0] > 0.9
    assert b.value[0] < 0.5


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), players=st.integers(3, 6))
def test_searcher_rows_are_the_searchers_information_state(seed, players):
    cards = min(5, 51 // players)
    state = new_game(players, cards, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(rng.integers(0, players + 3)):
        state.apply(int(rng.choice(state.legal_actions())))
    if len(state.legal_actions()) < 2:
        return
    searcher_hand = set(state.hand(state.current_player))
    probe = ViewerHoldsCard(0)
    result = search(state, probe, SearchSettings(1, 16, dirichlet_weight=0.0), seed=seed)
    rows = np.concatenate(probe.batches)
    assert result.evaluations == rows.shape[0]
    # The root row and every searcher-view row hold only cards of the searcher's real hand;
    # leaves of other players hold cards the searcher does not have.
    hands = [set(np.flatnonzero(r[OFF_HAND : OFF_HAND + 52]).tolist()) for r in rows]
    own = [h for h in hands if h <= searcher_hand]
    others = [h for h in hands if h and not h <= searcher_hand]
    assert own and others
    # Without the searcher view, fewer rows are evaluated for the same simulations.
    probe_off = ViewerHoldsCard(0)
    off = SearchSettings(1, 16, dirichlet_weight=0.0, searcher_view=False)
    result_off = search(state, probe_off, off, seed=seed)
    assert result_off.evaluations < result.evaluations
