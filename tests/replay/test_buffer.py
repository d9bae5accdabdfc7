"""The replay buffer: a FIFO ring of compact positions, sampled into training batches."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.data import CONT_INDEX, GameRecord, TrainingBatch, pack_features, unpack_features
from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS
from blobrl.replay import ReplayBuffer


def synthetic_record(
    *,
    players: int = 5,
    cards: int = 7,
    positions: int = 6,
    game_id: int = 0,
    iteration: int = 1,
    seed: int = 0,
) -> GameRecord:
    """A game of random but well-formed positions: every position's features, legal actions,
    policy and acting seat are distinct, so a sampled row can be traced back to its source."""
    rng = np.random.default_rng(seed)
    features = (rng.random((positions, FEATURES)) < 0.1).astype(np.float32)
    # Continuous entries on a 1/16 grid survive float16 exactly.
    features[:, CONT_INDEX] = rng.integers(0, 16, (positions, CONT_INDEX.size)) / 16
    bits, cont = pack_features(features)
    legal = rng.random((positions, NUM_ACTIONS)) < 0.3
    legal[:, 0] = True
    policy = np.where(legal, rng.integers(1, 9, legal.shape), 0).astype(np.float64)
    policy /= policy.sum(axis=1, keepdims=True)
    bids = rng.integers(0, cards + 1, players)
    scores = np.where(rng.random(players) < 0.5, 10.0 + bids, 0.0)
    return GameRecord(
        seed=seed,
        num_players=players,
        num_cards=cards,
        weight_version=iteration - 1,
        determinizations=1,
        simulations=8,
        actions=np.zeros(players + players * cards, np.int16),
        players=(np.arange(positions) % players).astype(np.int8),
        feature_bits=bits,
        feature_cont=cont,
        legal=legal,
        policy=policy.astype(np.float16),
        scores=scores.astype(np.float32),
        iteration=iteration,
        game_id=game_id,
    )


def all_rows(buffer: ReplayBuffer, rng=None):
    """Sample enough to see every stored row (bounded: the buffers here are tiny)."""
    rng = rng or np.random.default_rng(0)
    return buffer.sample(64 * max(len(buffer), 1), rng)


def test_bytes_per_position_is_small_and_documented():
    assert ReplayBuffer.bytes_per_position() == 394
    buffer = ReplayBuffer(1000)
    arrays = [v for v in vars(buffer).values() if isinstance(v, np.ndarray)]
    assert sum(a.nbytes for a in arrays) == buffer.nbytes == 394_000


def test_sampled_batch_has_the_training_shapes_and_dtypes():
    buffer = ReplayBuffer(100)
    buffer.add_game(synthetic_record(positions=10, seed=1))
    batch = buffer.sample(32, np.random.default_rng(0))
    assert isinstance(batch, TrainingBatch)
    assert batch.features.shape == (32, FEATURES) and batch.features.dtype == np.float32
    assert batch.legal_mask.shape == (32, NUM_ACTIONS) and batch.legal_mask.dtype == np.bool_
    assert batch.policy_target.shape == (32, NUM_ACTIONS)
    assert batch.policy_target.dtype == np.float32
    assert batch.value_target.shape == (32, MAX_PLAYERS)
    assert batch.value_target.dtype == np.float32
    assert batch.seat_mask.shape == (32, MAX_PLAYERS) and batch.seat_mask.dtype == np.bool_


def test_positions_come_back_as_they_went_in():
    record = synthetic_record(positions=12, seed=3)
    buffer = ReplayBuffer(50)
    buffer.add_game(record)
    features = unpack_features(record.feature_bits, record.feature_cont)
    batch = all_rows(buffer)
    seen = set()
    for row in range(len(batch)):
        # Features identify the source position.
        matches = np.flatnonzero((features == batch.features[row]).all(axis=1))
        assert matches.size == 1
        t = int(matches[0])
        seen.add(t)
        np.testing.assert_array_equal(batch.legal_mask[row], record.legal[t])
        np.testing.assert_array_equal(batch.policy_target[row], record.policy[t].astype(np.float32))
        assert batch.policy_target[row][~record.legal[t]].sum() == 0
    assert seen == set(range(12))


@pytest.mark.parametrize("players", [3, 5, 8])
def test_value_targets_are_rotated_to_the_acting_seat(players):
    cards = 6 if players == 8 else 7
    record = synthetic_record(players=players, cards=cards, positions=2 * players, seed=players)
    buffer = ReplayBuffer(100)
    buffer.add_game(record)
    features = unpack_features(record.feature_bits, record.feature_cont)
    norm = record.scores / (10.0 + cards)
    batch = all_rows(buffer)
    for row in range(len(batch)):
        t = int(np.flatnonzero((features == batch.features[row]).all(axis=1))[0])
        actor = int(record.players[t])
        expected = np.zeros(MAX_PLAYERS, np.float32)
        expected[:players] = [norm[(actor + r) % players] for r in range(players)]
        np.testing.assert_allclose(batch.value_target[row], expected, atol=1e-3)
        assert batch.seat_mask[row].tolist() == [r < players for r in range(MAX_PLAYERS)]


def test_the_ring_overwrites_the_oldest_positions():
    buffer = ReplayBuffer(20)
    for g in range(5):  # 5 games x 6 positions into 20 slots
        buffer.add_game(synthetic_record(positions=6, game_id=g, iteration=g + 1, seed=g))
    assert len(buffer) == 20
    stats = buffer.stats()
    assert stats.size == 20 and stats.games_added == 5 and stats.positions_added == 30
    # Games 0 and the first four positions of game 1 are gone; game 1 keeps two positions.
    assert stats.games_held == 4
    assert stats.oldest_iteration == 2 and stats.newest_iteration == 5
    batch = all_rows(buffer)
    kept = [
        unpack_features(r.feature_bits, r.feature_cont)
        for r in (
            synthetic_record(positions=6, game_id=g, iteration=g + 1, seed=g) for g in range(5)
        )
    ]
    sources = {
        (g, t)
        for row in batch.features
        for g in range(5)
        for t in np.flatnonzero((kept[g] == row).all(axis=1))
    }
    assert sources == {(1, 4), (1, 5)} | {(g, t) for g in (2, 3, 4) for t in range(6)}


def test_a_game_longer_than_the_buffer_keeps_its_last_positions():
    buffer = ReplayBuffer(4)
    record = synthetic_record(positions=10, seed=9)
    buffer.add_game(record)
    assert len(buffer) == 4
    features = unpack_features(record.feature_bits, record.feature_cont)
    batch = all_rows(buffer)
    sources = {int(np.flatnonzero((features == row).all(axis=1))[0]) for row in batch.features}
    assert sources == {6, 7, 8, 9}


def test_stats_report_size_lengths_values_and_game_mix():
    buffer = ReplayBuffer(1000)
    buffer.add_game(synthetic_record(players=5, cards=7, positions=10, seed=1))
    buffer.add_game(synthetic_record(players=5, cards=7, positions=20, seed=2))
    buffer.add_game(synthetic_record(players=4, cards=6, positions=6, seed=3))
    stats = buffer.stats()
    assert stats.size == 36 and stats.capacity == 1000
    assert stats.mean_game_length == pytest.approx(12.0)
    assert stats.game_mix == {(4, 6): 1, (5, 7): 2}
    assert sum(stats.value.histogram) == 36
    own = np.concatenate(
        [
            synthetic_record(players=p, cards=c, positions=n, seed=s).value_targets()[:, 0]
            for p, c, n, s in [(5, 7, 10, 1), (5, 7, 20, 2), (4, 6, 6, 3)]
        ]
    )
    assert stats.value.mean == pytest.approx(own.mean(), abs=1e-3)
    assert stats.value.std == pytest.approx(own.std(), abs=1e-3)


def test_game_mix_forgets_games_once_fully_overwritten():
    buffer = ReplayBuffer(10)
    buffer.add_game(synthetic_record(players=4, cards=6, positions=5, seed=1))
    buffer.add_game(synthetic_record(players=5, cards=7, positions=5, seed=2))
    buffer.add_game(synthetic_record(players=5, cards=7, positions=5, seed=3))
    assert buffer.stats().game_mix == {(5, 7): 2}


def test_empty_buffer_reports_zeros_and_refuses_to_sample():
    buffer = ReplayBuffer(10)
    stats = buffer.stats()
    assert stats.size == 0 and stats.mean_game_length == 0.0 and stats.game_mix == {}
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(4, np.random.default_rng(0))


def test_sampling_is_uniform_over_positions():
    buffer = ReplayBuffer(4)
    record = synthetic_record(positions=4, seed=5)
    buffer.add_game(record)
    features = unpack_features(record.feature_bits, record.feature_cont)
    batch = buffer.sample(4000, np.random.default_rng(1))
    index = [int(np.flatnonzero((features == row).all(axis=1))[0]) for row in batch.features]
    counts = np.bincount(index, minlength=4) / 4000
    np.testing.assert_allclose(counts, 0.25, atol=0.03)


def test_real_self_play_games_go_through_the_buffer():
    from blobrl.mcts import SearchSettings, uniform_evaluator
    from blobrl.selfplay.worker import GameSpec, SelfPlayWorker

    worker = SelfPlayWorker(
        uniform_evaluator,
        settings=SearchSettings(determinizations=1, simulations=4),
        games_in_flight=4,
    )
    records = worker.play([GameSpec(4, 3, seed=s, game_id=s) for s in range(4)])
    buffer = ReplayBuffer(1000)
    for record in records:
        buffer.add_game(record)
    assert len(buffer) == sum(r.num_positions for r in records)
    batch = buffer.sample(16, np.random.default_rng(0))
    np.testing.assert_allclose(batch.policy_target.sum(axis=1), 1.0, atol=1e-2)
    assert (batch.policy_target[~batch.legal_mask] == 0).all()
    assert buffer.stats().game_mix == {(4, 3): 4}
