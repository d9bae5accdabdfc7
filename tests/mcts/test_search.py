"""Batched determinized search with tiny fake evaluators whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.game import BID_BASE, FEATURES, MAX_PLAYERS, NUM_ACTIONS, from_deal, new_game
from blobrl.game import rng as _rng
from blobrl.inference.codec import unpack_rows
from blobrl.mcts import BatchedSearch, SearchSettings, search, uniform_evaluator

SPADES = 3


def card(rank: str, suit: str) -> int:
    return "cdhs".index(suit) * 13 + "23456789TJQKA".index(rank)


def discard_or_trump_position():
    """3 players, spades trump. Seat 2 bid 1 and has no trick; trick 2 is hearts and seat 2 has
    none, holding A♠ and A♣. Discarding A♣ now loses this trick and A♠ then wins the last one:
    exactly one trick in every world. Trumping now wins this trick, and A♣ led to the last trick
    wins it too unless an opponent can trump: a bust in most worlds."""
    hands = [
        [card("K", "d"), card("3", "h"), card("4", "h")],
        [card("5", "d"), card("6", "h"), card("7", "h")],
        [card("2", "d"), card("A", "s"), card("A", "c")],
    ]
    state = from_deal(hands, dealer=2, trump=SPADES)
    for action in [BID_BASE + 0, BID_BASE + 1, BID_BASE + 1]:
        state.apply(action)
    for c in ["Kd", "5d", "2d", "3h", "6h"]:
        state.apply(card(c[0], c[1]))
    assert state.current_player == 2
    assert sorted(state.legal_actions()) == [card("A", "c"), card("A", "s")]
    return state


@pytest.mark.parametrize("root", ["puct", "gumbel"])
@pytest.mark.parametrize("seed", range(5))
def test_search_finds_the_only_sure_play_late_in_the_hand(root, seed):
    state = discard_or_trump_position()
    settings = SearchSettings(determinizations=8, simulations=16, root=root, dirichlet_weight=0.0)
    result = search(state, uniform_evaluator, settings, seed=seed)
    assert int(np.argmax(result.policy[0])) == card("A", "c")
    # PUCT sums visits over worlds: in worlds where an opponent can trump, both plays score the
    # same and visits split, so its target stays near 3/4. Gumbel's target is built from Q
    # averaged over worlds and goes to the sure play.
    assert result.policy[0, card("A", "c")] > (0.55 if root == "puct" else 0.9)


def test_root_value_is_exact_when_every_line_is_forced_after_the_root():
    state = discard_or_trump_position()
    settings = SearchSettings(determinizations=4, simulations=64, dirichlet_weight=0.0)
    result = search(state, uniform_evaluator, settings, seed=0)
    # The best line scores 11 of a possible 13 (10 + 3 cards) for certain; PUCT spends most
    # visits there, so the root value approaches 11/13 from below.
    assert 0.6 < result.value[0] <= 11 / 13 + 1e-6


def rigged_prior(favoured: int):
    def evaluate(features: np.ndarray):
        b = features.shape[0]
        logits = np.zeros((b, NUM_ACTIONS), np.float32)
        logits[:, favoured] = 6.0
        return logits, np.full((b, MAX_PLAYERS), 0.5, np.float32)

    return evaluate


@pytest.mark.parametrize("bid", [0, 1, 3])
def test_visits_concentrate_on_the_action_the_evaluator_favours(bid):
    state = new_game(5, 7, seed=bid)
    settings = SearchSettings(determinizations=2, simulations=40, dirichlet_weight=0.0)
    result = search(state, rigged_prior(BID_BASE + bid), settings, seed=1)
    assert int(np.argmax(result.visits[0])) == BID_BASE + bid
    assert result.policy[0, BID_BASE + bid] > 0.8


def value_rigged_towards_holding(card_id: int):
    """Values say: whoever still holds ``card_id`` will score 1, everyone else 0."""
    from blobrl.game.encoding import OFF_HAND

    def evaluate(features: np.ndarray):
        b = features.shape[0]
        values = np.zeros((b, MAX_PLAYERS), np.float32)
        values[:, 0] = features[:, OFF_HAND + card_id]  # relative seat 0 is the acting seat
        return np.zeros((b, NUM_ACTIONS), np.float32), values

    return evaluate


def test_backed_up_values_steer_the_choice_of_card():
    # Seat 0 leads with no trick and would keep its highest club if holding it is worth more.
    hands = [
        [card("A", "c"), card("2", "h"), card("3", "h")],
        [card("4", "d"), card("5", "d"), card("6", "d")],
        [card("7", "d"), card("8", "d"), card("9", "d")],
    ]
    state = from_deal(hands, dealer=2, trump=None)
    for action in [BID_BASE + 0, BID_BASE + 0, BID_BASE + 0]:
        state.apply(action)
    settings = SearchSettings(determinizations=2, simulations=60, dirichlet_weight=0.0)
    result = search(state, value_rigged_towards_holding(card("A", "c")), settings, seed=3)
    assert result.policy[0, card("A", "c")] < 0.2


def batch_states(seeds):
    games = []
    for s in seeds:
        g = new_game(5, 7, seed=s)
        for _ in range(6):
            g.apply(g.legal_actions()[0])
        games.append(g.vector)
    return np.stack(games)


@pytest.mark.parametrize("root", ["puct", "gumbel"])
def test_a_games_result_does_not_depend_on_the_rest_of_the_batch(root):
    settings = SearchSettings(determinizations=3, simulations=20, root=root)
    alone = BatchedSearch(uniform_evaluator, max_games=4, settings=settings)
    crowd = BatchedSearch(uniform_evaluator, max_games=4, settings=settings)
    solo = alone.run(batch_states([7]), np.array([True]), _rng.seed_streams([99]))
    many = crowd.run(
        batch_states([1, 7, 3]), np.array([True, True, True]), _rng.seed_streams([5, 99, 6])
    )
    np.testing.assert_array_equal(solo.visits[0], many.visits[1])
    np.testing.assert_array_equal(solo.policy[0], many.policy[1])


def test_search_is_reproducible_from_a_seed():
    state = new_game(4, 6, seed=11)
    settings = SearchSettings(determinizations=3, simulations=25)
    a = search(state, uniform_evaluator, settings, seed=42)
    b = search(state, uniform_evaluator, settings, seed=42)
    c = search(state, uniform_evaluator, settings, seed=43)
    np.testing.assert_array_equal(a.visits, b.visits)
    assert not np.array_equal(a.visits, c.visits)  # the Dirichlet noise differs


@pytest.mark.parametrize("root", ["puct", "gumbel"])
@pytest.mark.parametrize("k,s", [(1, 1), (1, 15), (3, 30), (5, 50)])
def test_root_visits_add_up_to_the_budget_and_stay_legal(root, k, s):
    state = new_game(6, 7, seed=k * 100 + s)
    result = search(state, uniform_evaluator, SearchSettings(k, s, root=root), seed=0)
    legal = state.legal_mask()
    assert result.visits[0].sum() == k * s
    assert np.all(result.policy[0][~legal] == 0)
    assert result.policy[0].sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("root", ["puct", "gumbel"])
def test_trees_too_large_for_16_bit_node_ids_search_alike(root):
    """Child ids are 16-bit while a tree's nodes fit, 32-bit past that: the two give the same
    search (the 32-bit arrays put in by hand here, rather than 32,767 simulations)."""
    settings = SearchSettings(determinizations=2, simulations=25, root=root)
    states = batch_states([4, 5, 6])
    active = np.array([True, True, True])
    results = []
    for dtype in (np.int16, np.int32):
        engine = BatchedSearch(uniform_evaluator, max_games=3, settings=settings)
        assert engine.children.dtype == np.int16
        engine.children = engine.children.astype(dtype)
        results.append(engine.run(states, active, _rng.seed_streams([7, 8, 9])))
    np.testing.assert_array_equal(results[0].visits, results[1].visits)
    np.testing.assert_array_equal(results[0].policy, results[1].policy)
    assert results[0].visits.sum() == 3 * 2 * 25


def test_inactive_games_are_left_untouched():
    settings = SearchSettings(determinizations=2, simulations=10)
    engine = BatchedSearch(uniform_evaluator, max_games=3, settings=settings)
    result = engine.run(
        batch_states([1, 2, 3]), np.array([True, False, True]), _rng.seed_streams([1, 2, 3])
    )
    assert result.visits[1].sum() == 0
    assert result.visits[0].sum() == result.visits[2].sum() == 20


def test_settings_reject_nonsense():
    with pytest.raises(ValueError, match="simulations"):
        SearchSettings(determinizations=1, simulations=0)
    with pytest.raises(ValueError, match="root"):
        SearchSettings(root="alphabeta")  # type: ignore[arg-type]


def test_gumbel_targets_prefer_the_best_action_even_when_values_differ_little():
    """Values that rise by a hair with the viewer's bid: the improved policy must still put
    most of its mass on the highest bid (Q is rescaled over the root's actions)."""
    from blobrl.game.encoding import OFF_SEATS, SEAT_BID

    def evaluate(features: np.ndarray):
        b = features.shape[0]
        values = np.full((b, MAX_PLAYERS), 0.5, np.float32)
        values[:, 0] += 0.01 * features[:, OFF_SEATS + SEAT_BID]  # bid / C of the viewer
        return np.zeros((b, NUM_ACTIONS), np.float32), values

    state = new_game(4, 5, seed=11)
    settings = SearchSettings(1, 32, root="gumbel", gumbel_actions=8, dirichlet_weight=0.0)
    result = search(state, evaluate, settings, seed=0)
    assert int(np.argmax(result.policy[0])) == BID_BASE + 5
    assert result.policy[0, BID_BASE + 5] > 0.5


class _Rowwise:
    """A network that reads every feature (a fixed random linear map); ``packed_rows`` takes
    the same rows in wire form, as the InferenceServer's client does."""

    def __init__(self, *, packed: bool):
        rng = np.random.default_rng(0)
        self.w = rng.normal(size=(FEATURES, NUM_ACTIONS)).astype(np.float32)
        self.v = rng.normal(size=(FEATURES, MAX_PLAYERS)).astype(np.float32) * 0.1
        self.calls = {"floats": 0, "packed": 0}
        if not packed:
            self.packed_rows = None

    def __call__(self, features):
        self.calls["floats"] += 1
        return self._net(features)

    def packed_rows(self, bits, cont):  # the float-only variant hides it behind None
        self.calls["packed"] += 1
        return self._net(unpack_rows(bits, cont))

    def _net(self, features):
        return features @ self.w, 1.0 / (1.0 + np.exp(-(features @ self.v)))


@pytest.mark.parametrize("root", ["puct", "gumbel"])
@pytest.mark.parametrize("searcher_view", [False, True])
def test_leaves_in_wire_form_search_exactly_like_float_rows(root, searcher_view):
    """An evaluator that takes packed rows gets them written by the search itself; the rows
    are the same, so every visit, policy and value is."""
    settings = SearchSettings(
        determinizations=3, simulations=30, root=root, searcher_view=searcher_view
    )
    seeds = list(range(12))
    results = {}
    for packed in (False, True):
        net = _Rowwise(packed=packed)
        engine = BatchedSearch(net, max_games=len(seeds), settings=settings)
        results[packed] = engine.run(
            batch_states(seeds), np.ones(len(seeds), np.bool_), _rng.seed_streams(seeds)
        )
        assert net.calls["packed" if packed else "floats"] > 0
        assert net.calls["floats" if packed else "packed"] == 0
    for field in ("visits", "policy", "value", "evaluations"):
        np.testing.assert_array_equal(getattr(results[True], field), getattr(results[False], field))
