import dataclasses
import io
import math

import numpy as np
import pytest
import torch

from blobrl.data import TrainingBatch
from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS
from blobrl.learner import Learner, LearnerConfig, TrainingDiverged
from blobrl.mcts import SearchSettings, uniform_evaluator
from blobrl.nn import NetworkConfig, build_network
from blobrl.replay import ReplayBuffer
from blobrl.selfplay import GameSpec, SelfPlayWorker

# The generic mechanics are checked on a direct value head (initial values exactly 0.5); the
# trick-count head, whose values depend on real positions, has its own tests at the end.
SMALL_NET = NetworkConfig(hidden=64, blocks=1, value_head="direct")


def synthetic_batch(size: int = 64, *, seed: int = 0) -> TrainingBatch:
    """Random sparse features, random legal sets, a peaked policy target over the legal actions
    and seat values for 3..8 present seats."""
    rng = np.random.default_rng(seed)
    features = (rng.random((size, FEATURES)) < 0.05).astype(np.float32)
    legal = rng.random((size, NUM_ACTIONS)) < 0.2
    legal[np.arange(size), rng.integers(0, NUM_ACTIONS, size)] = True
    raw = np.where(legal, rng.random((size, NUM_ACTIONS)) ** 4, 0.0)
    policy = (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)
    players = rng.integers(3, MAX_PLAYERS + 1, size)
    seats = np.arange(MAX_PLAYERS)[None, :] < players[:, None]
    values = np.where(seats, rng.random((size, MAX_PLAYERS)), 0.0).astype(np.float32)
    return TrainingBatch(features, legal, policy, values, seats)


def make_learner(*, seed: int = 0, network: NetworkConfig = SMALL_NET, **overrides) -> Learner:
    torch.manual_seed(seed)
    settings = {"warmup_iterations": 0, "lr_max": 1e-3, "max_bad_steps_in_row": 3} | overrides
    return Learner(
        build_network(network), LearnerConfig(**settings), total_iterations=100, device="cpu"
    )


def test_loss_decreases_on_a_fixed_batch():
    learner = make_learner()
    batch = synthetic_batch()
    first = learner.train_step(batch)
    for _ in range(48):
        learner.train_step(batch)
    last = learner.train_step(batch)
    assert not first.skipped and not last.skipped
    assert last.total_loss < 0.8 * first.total_loss
    assert last.policy_loss < first.policy_loss
    assert last.value_loss < first.value_loss
    assert last.policy_accuracy > first.policy_accuracy


def test_step_metrics_are_sane_at_initialisation():
    learner = make_learner()
    batch = synthetic_batch()
    metrics = learner.train_step(batch)
    legal_counts = batch.legal_mask.sum(axis=1)
    # Near-uniform initial policy: entropy close to the mean log of the legal-set size.
    assert metrics.policy_entropy == pytest.approx(np.mean(np.log(legal_counts)), rel=0.05)
    # Initial values are 0.5, so the error is the mean |0.5 - target| over present seats.
    expected = np.abs(0.5 - batch.value_target)[batch.seat_mask].mean()
    assert metrics.value_error == pytest.approx(expected, abs=1e-3)
    assert 0.0 <= metrics.policy_accuracy <= 1.0
    assert metrics.grad_norm > 0 and metrics.lr == pytest.approx(learner.scheduler.lr)


def test_label_smoothing_and_quartic_term_change_the_total():
    batch = synthetic_batch()
    plain = make_learner().train_step(batch)
    smoothed = make_learner(label_smoothing=0.1).train_step(batch)
    quartic = make_learner(quartic_weight=1.0).train_step(batch)
    assert smoothed.policy_loss != plain.policy_loss
    assert quartic.total_loss > plain.total_loss
    assert quartic.value_loss == pytest.approx(plain.value_loss)


def test_nan_loss_is_skipped_counted_and_leaves_weights_alone():
    learner = make_learner()
    before = learner.weights()
    good = synthetic_batch()
    poisoned = synthetic_batch()
    poisoned.features[0, 0] = np.nan
    metrics = learner.train_step(poisoned)
    assert metrics.skipped and math.isnan(metrics.total_loss)
    assert learner.skipped_total == 1 and learner.bad_steps_in_row == 1
    for name, tensor in learner.weights().items():
        assert torch.equal(tensor, before[name]), name
    assert not learner.train_step(good).skipped
    assert learner.bad_steps_in_row == 0 and learner.skipped_total == 1
    summary = learner.end_iteration()
    assert summary.steps == 2 and summary.skipped_steps == 1
    assert math.isfinite(summary.total_loss)


def test_too_many_bad_steps_in_a_row_raise_training_diverged():
    learner = make_learner(max_bad_steps_in_row=3)
    poisoned = synthetic_batch()
    poisoned.features[:, 5] = np.inf
    learner.train_step(poisoned)
    learner.train_step(poisoned)
    with pytest.raises(TrainingDiverged, match="3 training steps in a row"):
        learner.train_step(poisoned)


def test_exploding_gradient_is_skipped():
    learner = make_learner(skip_grad_norm=1e-9)
    before = learner.weights()
    metrics = learner.train_step(synthetic_batch())
    assert metrics.skipped and metrics.grad_norm > 1e-9
    assert learner.bad_steps_in_row == 1
    for name, tensor in learner.weights().items():
        assert torch.equal(tensor, before[name]), name


def test_end_iteration_reports_means_and_advances_the_lr():
    learner = make_learner(warmup_iterations=5)
    batch = synthetic_batch()
    steps = [learner.train_step(batch) for _ in range(3)]
    summary = learner.end_iteration()
    assert summary.iteration == 1 and summary.steps == 3 and summary.skipped_steps == 0
    assert summary.policy_loss == pytest.approx(np.mean([s.policy_loss for s in steps]))
    assert summary.lr == pytest.approx(1e-3 / 5)
    assert learner.iteration == 2
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(2e-3 / 5)


def test_run_iteration_takes_the_configured_number_of_steps():
    learner = make_learner(steps_per_iteration=4)
    summary = learner.run_iteration(synthetic_batch, positions=10_000)
    assert summary.steps == 4 and learner.total_steps == 4
    assert summary.samples == 4 * 64 and summary.positions == 10_000


def test_run_iteration_takes_the_steps_the_replay_ratio_owes():
    learner = make_learner(replay_ratio=2.0, batch_size=64)
    summary = learner.run_iteration(synthetic_batch, positions=160)  # 320 samples: 5 batches
    assert summary.steps == 5 and summary.samples == 320
    assert (summary.positions_total, summary.samples_total) == (160, 320)


def test_state_dict_round_trip_resumes_identically():
    batch = synthetic_batch()
    first = make_learner(seed=1, warmup_iterations=3)
    for _ in range(4):
        first.train_step(batch)
    first.end_iteration()
    first.train_step(synthetic_batch(seed=2))
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    second = make_learner(seed=99, warmup_iterations=3)
    second.load_state_dict(state)
    assert second.iteration == first.iteration and second.total_steps == first.total_steps
    expected = first.train_step(batch)
    resumed = second.train_step(batch)
    assert dataclasses.asdict(resumed) == pytest.approx(dataclasses.asdict(expected), nan_ok=True)
    for name, tensor in second.weights().items():
        assert torch.equal(tensor, first.weights()[name]), name


def test_weights_are_detached_cpu_copies():
    learner = make_learner()
    weights = learner.weights()
    assert all(t.device.type == "cpu" and not t.requires_grad for t in weights.values())
    learner.train_step(synthetic_batch())
    changed = learner.weights()
    assert any(not torch.equal(weights[n], changed[n]) for n in weights)


def test_batch_with_wrong_dtype_is_rejected_naming_the_field():
    good = synthetic_batch(4)
    with pytest.raises(ValueError, match="legal_mask"):
        TrainingBatch(
            good.features,
            good.legal_mask.astype(np.float32),
            good.policy_target,
            good.value_target,
            good.seat_mask,
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lr_min": 1.0}, "lr_min"),
        ({"grad_clip": 0.0}, "grad_clip"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"amp": "fp8"}, "amp"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        LearnerConfig(**fields)


def self_play_batch(size: int = 128) -> TrainingBatch:
    """A batch of real self-play positions (uniform evaluator, tiny search) via the buffer."""
    worker = SelfPlayWorker(uniform_evaluator, settings=SearchSettings(1, 4), games_in_flight=8)
    buffer = ReplayBuffer(10_000)
    for record in worker.play([GameSpec(5, 5, seed=i, game_id=i) for i in range(12)]):
        buffer.add_game(record)
    return buffer.sample(size, np.random.default_rng(0))


def test_a_trick_head_learns_the_trick_counts_of_real_positions():
    batch = self_play_batch()
    assert batch.trick_target is not None and (batch.trick_target[batch.seat_mask] >= 0).all()
    learner = make_learner(network=NetworkConfig(hidden=64, blocks=1))
    first = learner.train_step(batch)
    for _ in range(60):
        last = learner.train_step(batch)
    assert math.isfinite(first.trick_loss) and last.trick_loss < 0.7 * first.trick_loss
    assert last.value_loss < first.value_loss  # the values derived from the counts improve too


def test_the_trick_loss_weight_scales_its_part_of_the_total():
    batch = self_play_batch(64)
    net = NetworkConfig(hidden=64, blocks=1)
    plain = make_learner(network=net).train_step(batch)
    doubled = make_learner(network=net, trick_loss_weight=2.0).train_step(batch)
    assert doubled.total_loss == pytest.approx(plain.total_loss + plain.trick_loss, rel=1e-5)
    without_targets = dataclasses.replace(batch, trick_target=None)
    assert math.isnan(make_learner(network=net).train_step(without_targets).trick_loss)
