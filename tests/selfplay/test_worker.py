"""SelfPlayWorker plays whole hands through batched search and returns consistent records."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.data import unpack_features
from blobrl.game import MAX_PLAYERS, NUM_ACTIONS, from_deal, new_game
from blobrl.game.encoding import encode
from blobrl.mcts import SearchSettings, uniform_evaluator
from blobrl.selfplay import GameSpec, SelfPlayWorker

DEALS = [(3, 1), (3, 10), (4, 6), (5, 7), (6, 7), (7, 7), (8, 6)]


def play(specs, *, root="puct", games_in_flight=8, evaluator=uniform_evaluator):
    worker = SelfPlayWorker(
        evaluator,
        settings=SearchSettings(determinizations=2, simulations=6, root=root),
        games_in_flight=games_in_flight,
    )
    return worker, worker.play(specs)


@pytest.mark.parametrize("root", ["puct", "gumbel"])
def test_records_of_full_hands_are_consistent_at_every_deal_size(root):
    specs = [GameSpec(n, c, seed=100 + i, game_id=i) for i, (n, c) in enumerate(DEALS)]
    worker, records = play(specs, root=root, games_in_flight=4)
    assert sorted(r.game_id for r in records) == list(range(len(DEALS)))
    for r in records:
        n, c = r.num_players, r.num_cards
        t = r.num_positions
        assert r.actions.shape == (n + n * c,)
        assert r.legal.shape == (t, NUM_ACTIONS) and r.policy.shape == (t, NUM_ACTIONS)
        # Policy targets are distributions with zero mass on illegal actions.
        policy = r.policy.astype(np.float32)
        assert np.all(policy[~r.legal] == 0)
        np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=2e-3)
        # Value targets: final scores normalized by 10 + C, rotated to each acting seat.
        vt = r.value_targets()
        assert vt.shape == (t, MAX_PLAYERS)
        assert np.all((vt >= 0) & (vt <= 1)) and np.all(vt[:, n:] == 0)
        for row, seat in enumerate(r.players):
            assert vt[row, 0] == pytest.approx(r.scores[seat] / (10 + c))
            assert vt[row, 1] == pytest.approx(r.scores[(seat + 1) % n] / (10 + c))
        assert r.seat_mask().sum(axis=1).tolist() == [n] * t
        # Replaying the recorded actions reproduces the deal's positions and final scores.
        state = new_game(n, c, seed=r.seed)
        rows = iter(range(t))
        feats = unpack_features(r.feature_bits, r.feature_cont)
        for action in r.actions.tolist():
            if len(state.legal_actions()) > 1:
                row = next(rows)
                assert state.current_player == r.players[row]
                np.testing.assert_array_equal(state.legal_mask(), r.legal[row])
                # Continuous features are stored as float16 (bid sum / C can reach N).
                np.testing.assert_allclose(feats[row], encode(state), rtol=1e-3, atol=1e-3)
            state.apply(action)
        assert next(rows, None) is None
        assert state.scores() == r.scores.astype(int).tolist()
    assert worker.stats.games == len(DEALS)
    assert worker.stats.positions == sum(r.num_positions for r in records)


def test_self_play_is_reproducible_and_independent_of_batch_company():
    target = GameSpec(5, 7, seed=1234, game_id=0)
    _, alone = play([target], games_in_flight=1)
    others = [GameSpec(4, 6, seed=s, game_id=s) for s in range(1, 6)]
    _, crowd = play([*others[:2], target, *others[2:]], games_in_flight=6)
    again = next(r for r in crowd if r.seed == 1234)
    np.testing.assert_array_equal(alone[0].actions, again.actions)
    np.testing.assert_array_equal(alone[0].policy, again.policy)


def test_forced_moves_are_played_but_not_recorded():
    # One card each: bidding is searched, the single card play is forced.
    _, records = play([GameSpec(4, 1, seed=s) for s in range(6)])
    for r in records:
        assert r.num_positions <= 4
        assert np.all(r.legal[:, 52:].any(axis=1))  # only bidding decisions recorded


def test_stop_request_abandons_games_in_flight():
    worker = SelfPlayWorker(uniform_evaluator, settings=SearchSettings(1, 4), games_in_flight=4)
    calls = {"n": 0}

    def stop_after_a_few_decisions():
        calls["n"] += 1
        return calls["n"] > 3

    records = worker.play(
        [GameSpec(5, 7, seed=s) for s in range(50)], should_stop=stop_after_a_few_decisions
    )
    assert records == []  # nothing finished in three decisions of a 5x7 hand


def test_weight_version_is_recorded_per_game():
    class Versioned:
        version = 7

        def __call__(self, features):
            return uniform_evaluator(features)

    _, records = play([GameSpec(3, 2, seed=1)], evaluator=Versioned())
    assert records[0].weight_version == 7


def test_positions_encode_the_acting_players_hand():
    state = from_deal([[0, 1], [13, 14], [26, 27]], dealer=0, trump=None)
    assert state.current_player == 1  # eldest
    feats = encode(state)
    assert np.flatnonzero(feats[:52]).tolist() == [13, 14]
