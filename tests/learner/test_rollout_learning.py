"""The learned rollout rule in a run: fitted by the learner from the replay buffer's card
decisions, carried by the weights to self-play (local or remote network), checkpoints and model
agents."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from blobrl.actors.learner import LearnerService
from blobrl.actors.replay import ReplayService
from blobrl.actors.selfplay import SelfPlayService
from blobrl.config import load_config
from blobrl.learner import LearnerConfig
from blobrl.learner.rollout_fit import MIN_DECISIONS
from blobrl.mcts import SearchSettings, rollout, uniform_evaluator
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network, bytes_to_state_dict
from blobrl.remote import LocalHandle
from blobrl.selfplay import GameSpec, SelfPlayWorker

TINY_NET = NetworkConfig(hidden=16, blocks=1)
LEARNED = SearchSettings(tree="information_set", simulations=40, rollout="learned", reward="margin")
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def games():
    worker = SelfPlayWorker(uniform_evaluator, settings=LEARNED, games_in_flight=8)
    return worker.play([GameSpec(5, 7, seed=s, game_id=s, iteration=1) for s in range(72)])


def _service(*, fit_rollout: bool) -> LearnerService:
    replay = ReplayService(100_000, seed=1, card_decisions=20_000 if fit_rollout else 0)
    config = LearnerConfig(warmup_iterations=0, batch_size=16, steps_per_iteration=4)
    return LearnerService(
        TINY_NET, config, total_iterations=3, replay=LocalHandle(replay, "replay"),
        fit_rollout=fit_rollout, device="cpu",
    )  # fmt: skip


def _rule(weights: bytes) -> np.ndarray:
    return bytes_to_state_dict(weights)["rollout_weights"].numpy()


def test_the_learner_refits_the_rule_and_the_weights_carry_it(games):
    learner = _service(fit_rollout=True)
    learner.replay.handle.obj.add_games(games)
    metrics = learner.train_iteration(1, positions=sum(g.num_positions for g in games))
    assert metrics.rollout_decisions > MIN_DECISIONS
    assert 0.0 < metrics.rollout_agreement < 1.0 and metrics.rollout_previous_agreement > 0.0
    weights, _ = learner.weights_bytes()
    rule = _rule(weights)
    assert rule.shape == (rollout.NUM_WEIGHTS,) and not np.array_equal(rule, rollout.GREEDY_WEIGHTS)
    # a network loaded from them plays that rule in its searches
    evaluator = TorchEvaluator(build_network(TINY_NET))
    evaluator.set_weights(bytes_to_state_dict(weights), 1)
    np.testing.assert_array_equal(evaluator.rollout_weights, rule)
    # and the learner's checkpoint restores it
    fresh = _service(fit_rollout=True)
    fresh.load_state(learner.state())
    np.testing.assert_array_equal(_rule(fresh.weights_bytes()[0]), rule)


def test_without_a_learned_rollout_in_the_run_the_rule_stays_greedy(games):
    learner = _service(fit_rollout=False)
    learner.replay.handle.obj.add_games(games)
    metrics = learner.train_iteration(1, positions=sum(g.num_positions for g in games))
    assert metrics.rollout_decisions == 0 and np.isnan(metrics.rollout_agreement)
    np.testing.assert_array_equal(_rule(learner.weights_bytes()[0]), rollout.GREEDY_WEIGHTS)


def test_weights_saved_before_networks_carried_a_rule_load_with_the_greedy_one():
    model = build_network(TINY_NET)
    old = {k: v for k, v in model.state_dict().items() if k != "rollout_weights"}
    fresh = build_network(TINY_NET)
    with torch.no_grad():
        fresh.rollout_weights.zero_()
    fresh.load_state_dict(old)
    np.testing.assert_array_equal(fresh.rollout_weights.numpy(), rollout.GREEDY_WEIGHTS)


class _RemoteNetwork:
    """Stands in for an InferenceServer client: no weights of its own to load."""

    rollout_weights = None

    def __call__(self, features):
        return uniform_evaluator(features)


def test_a_self_play_actor_with_a_remote_network_takes_the_rule_from_published_weights():
    model = build_network(TINY_NET)
    rule = np.random.default_rng(0).normal(size=rollout.NUM_WEIGHTS)
    with torch.no_grad():
        model.rollout_weights.copy_(torch.from_numpy(rule))
    from blobrl.nn import state_dict_to_bytes

    svc = SelfPlayService(
        "selfplay-test", evaluator_factory=_RemoteNetwork, settings=LEARNED,
        games_in_flight=2, torch_threads=None,
    )  # fmt: skip
    try:
        svc.set_weights(state_dict_to_bytes(model.state_dict()), 1)
        svc.submit([GameSpec(4, 3, seed=s, game_id=s) for s in range(2)])
        deadline = time.monotonic() + 60
        while svc.status().games < 2:
            assert time.monotonic() < deadline, "the games did not finish"
            time.sleep(0.01)
        np.testing.assert_array_equal(svc._evaluator.rollout_weights, rule)
    finally:
        svc.stop()


def test_the_laptop_run_learns_its_rollout_and_the_smoke_run_does_not():
    assert load_config(CONFIGS / "laptop.yaml").learns_rollout
    assert not load_config(CONFIGS / "smoke.yaml").learns_rollout
