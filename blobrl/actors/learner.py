"""LearnerService: trains on batches pulled from the replay buffer and publishes weights."""

from __future__ import annotations

import logging
import time
from typing import Any

import torch

from blobrl.actors.handles import call
from blobrl.learner import IterationMetrics, Learner, LearnerConfig
from blobrl.nn import NetworkConfig, build_network, state_dict_to_bytes

log = logging.getLogger(__name__)


class LearnerService:
    """One iteration of training per :meth:`train_iteration` call; weights version = iterations
    trained."""

    def __init__(
        self,
        network: NetworkConfig,
        config: LearnerConfig,
        *,
        total_iterations: int,
        replay: Any,
        device: str | None = None,
        seed: int = 0,
        torch_threads: int | None = None,
    ):
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        torch.manual_seed(seed)
        self.learner = Learner(
            build_network(network), config, total_iterations=total_iterations, device=device
        )
        self.replay = replay
        self.version = 0
        self.steps_per_s = 0.0
        log.info("learner ready on %s", self.learner.device)

    def train_iteration(self, iteration: int) -> IterationMetrics:
        """Run ``steps_per_iteration`` optimizer steps, then step the LR schedule. Samples are
        fetched one step ahead so the replay actor and the optimizer overlap."""
        cfg = self.learner.config
        start = time.perf_counter()
        pending = call(self.replay, "sample", cfg.batch_size)
        for step in range(cfg.steps_per_iteration):
            batch = pending.result()
            if step + 1 < cfg.steps_per_iteration:
                pending = call(self.replay, "sample", cfg.batch_size)
            self.learner.train_step(batch)
        metrics = self.learner.end_iteration()
        self.version = iteration
        elapsed = time.perf_counter() - start
        self.steps_per_s = cfg.steps_per_iteration / elapsed if elapsed > 0 else 0.0
        log.info(
            "trained iteration %d: loss %.4f (policy %.4f, value %.4f, tricks %.4f), %.1f steps/s",
            iteration,
            metrics.total_loss,
            metrics.policy_loss,
            metrics.value_loss,
            metrics.trick_loss,
            self.steps_per_s,
        )
        return metrics

    def weights_bytes(self) -> tuple[bytes, int]:
        """The current weights (for the InferenceServer and self-play actors) and version."""
        return state_dict_to_bytes(self.learner.weights()), self.version

    def state(self) -> dict[str, Any]:
        """The full training state: model, optimizer, scheduler, scaler, counters, torch RNG."""
        return {
            "learner": self.learner.state_dict(),
            "version": self.version,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state(self, state: dict[str, Any]) -> int:
        """Restore :meth:`state`; training continues exactly where it was checkpointed."""
        self.learner.load_state_dict(state["learner"])
        self.version = int(state["version"])
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        return self.version

    def rate(self) -> float:
        """Optimizer steps per second over the last iteration."""
        return self.steps_per_s

    def lr(self) -> float:
        return float(self.learner.scheduler.lr)

    def ping(self) -> str:
        return "learner"
