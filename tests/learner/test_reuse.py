"""Data reuse: the learner trains ``learner.replay_ratio`` samples per position generated, and
nothing until the replay buffer holds ``replay.min_positions_to_train`` positions."""

from __future__ import annotations

import pytest
import torch

from blobrl.actors.learner import LearnerService
from blobrl.actors.replay import ReplayService
from blobrl.learner import LearnerConfig, steps_for
from blobrl.mcts import SearchSettings, uniform_evaluator
from blobrl.nn import NetworkConfig
from blobrl.remote import LocalHandle
from blobrl.selfplay import GameSpec, SelfPlayWorker

TINY_NET = NetworkConfig(hidden=16, blocks=1)
GAMES_PER_ITERATION = 6
ITERATIONS = 5


@pytest.fixture(scope="module")
def iterations_of_games():
    """Real self-play games (uniform evaluator, tiny search): ITERATIONS lists of 4x4 and 5x3
    games, each iteration a different number of positions."""
    worker = SelfPlayWorker(uniform_evaluator, settings=SearchSettings(1, 2), games_in_flight=8)
    out = []
    for it in range(1, ITERATIONS + 1):
        count = GAMES_PER_ITERATION + it  # the positions per iteration vary
        specs = [
            GameSpec(4 if i % 2 else 5, 4 if i % 2 else 3, seed=100 * it + i, game_id=i,
                     iteration=it)
            for i in range(count)
        ]  # fmt: skip
        out.append(worker.play(specs))
    return out


def service(*, min_positions: int = 1, **learner) -> tuple[LearnerService, LocalHandle]:
    replay = LocalHandle(ReplayService(100_000, seed=3), "replay")
    config = LearnerConfig(**{"warmup_iterations": 0, "batch_size": 16} | learner)
    learner_service = LearnerService(
        TINY_NET, config, total_iterations=ITERATIONS, replay=replay,
        min_positions=min_positions, device="cpu", seed=0,
    )  # fmt: skip
    return learner_service, replay


def play_iteration(learner: LearnerService, replay: LocalHandle, iteration: int, games):
    """Add an iteration's games to the buffer and train it, as the Coordinator does."""
    replay.obj.add_games(games)
    return learner.train_iteration(iteration, positions=sum(g.num_positions for g in games))


@pytest.mark.parametrize("ratio", [0.5, 1.5, 3.0])
def test_the_realized_reuse_matches_the_configured_ratio(iterations_of_games, ratio):
    learner, replay = service(replay_ratio=ratio)
    reports = [
        play_iteration(learner, replay, it, games)
        for it, games in enumerate(iterations_of_games, start=1)
    ]
    last = reports[-1]
    assert last.positions_total == replay.obj.buffer.positions_added  # what the buffer got
    assert last.samples_total / last.positions_total == pytest.approx(ratio, rel=0.10)
    for report in reports:
        assert report.samples == report.steps * 16
        # Each iteration is within a batch of its share (the rounding is carried over).
        assert abs(report.samples - ratio * report.positions) <= 16
    # The steps taken are the optimizer's: nothing else trained.
    assert learner.learner.total_steps == sum(r.steps for r in reports)


def test_rounding_is_carried_over_so_the_ratio_converges():
    config = LearnerConfig(replay_ratio=2.5, batch_size=256)
    positions = samples = 0
    for generated in [31_044, 38_805, 38_805, 127, 5, 40_000, 39_990]:
        positions += generated
        steps = steps_for(config, positions=positions, samples=samples)
        assert steps >= 1
        samples += steps * config.batch_size
        # Never more than half a batch (or the one step an iteration always takes) off.
        assert abs(samples - 2.5 * positions) <= config.batch_size
    assert samples / positions == pytest.approx(2.5, rel=0.01)


def test_a_fixed_step_count_ignores_the_positions():
    config = LearnerConfig(steps_per_iteration=7, batch_size=256)
    assert config.replay_ratio is None
    assert steps_for(config, positions=10**6, samples=0) == 7
    assert steps_for(config, positions=1, samples=10**6) == 7


def test_no_step_before_the_buffer_holds_min_positions_to_train(iterations_of_games):
    first, second = iterations_of_games[0], iterations_of_games[1]
    held = sum(g.num_positions for g in first)
    learner, replay = service(replay_ratio=2.0, min_positions=held + 1)
    before = {k: v.clone() for k, v in learner.learner.model.state_dict().items()}
    waiting = play_iteration(learner, replay, 1, first)
    assert waiting.steps == 0 and waiting.samples == 0 and learner.learner.total_steps == 0
    after = learner.learner.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the weights did not move
    assert learner.version == 1 and learner.learner.iteration == 2  # the schedule goes on
    # Once the buffer is full enough, the samples owed to the first iteration are trained too.
    trained = play_iteration(learner, replay, 2, second)
    assert trained.steps > 0
    assert trained.samples_total / trained.positions_total == pytest.approx(2.0, rel=0.10)


def test_the_reuse_totals_survive_a_checkpoint(iterations_of_games):
    learner, replay = service(replay_ratio=1.0)
    play_iteration(learner, replay, 1, iterations_of_games[0])
    state = learner.state()
    restored, _ = service(replay_ratio=1.0)
    restored.load_state(state)
    assert restored.learner.samples_total == learner.learner.samples_total > 0
    assert restored.learner.positions_total == learner.learner.positions_total > 0
