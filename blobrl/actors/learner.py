"""LearnerService: trains on batches pulled from the replay buffer and publishes weights."""

from __future__ import annotations

import copy
import logging
import time
import uuid
from typing import Any

import torch

from blobrl.actors.handles import call
from blobrl.learner import IterationMetrics, Learner, LearnerConfig
from blobrl.nn import NetworkConfig, build_network, state_dict_to_bytes

log = logging.getLogger(__name__)


class LearnerRestarted(RuntimeError):
    """A call meant for a learner that has since been restarted (and lost its training state)."""


class LearnerService:
    """One iteration of training per :meth:`train_iteration` call; weights version = iterations
    trained.

    Ray restarts a lost learner with fresh weights. The calls whose answer depends on the
    training state take the ``instance`` the caller expects (:meth:`instance`) and raise
    :class:`LearnerRestarted` when it has changed, so a fresh learner is never mistaken for the
    trained one: the Coordinator loads the last checkpoint into it first.
    """

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
        self._instance = uuid.uuid4().hex
        log.info("learner ready on %s", self.learner.device)

    def instance(self) -> str:
        """An id of this learner process; it changes when Ray restarts the actor."""
        return self._instance

    def _expect(self, instance: str | None) -> None:
        if instance is not None and instance != self._instance:
            raise LearnerRestarted(
                f"the learner was restarted (instance {self._instance}, expected {instance})"
            )

    def train_iteration(self, iteration: int, *, instance: str | None = None) -> IterationMetrics:
        """Run ``steps_per_iteration`` optimizer steps, then step the LR schedule. Samples are
        fetched one step ahead so the replay actor and the optimizer overlap."""
        self._expect(instance)
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

    def weights_bytes(self, *, instance: str | None = None) -> tuple[bytes, int]:
        """The current weights (for the InferenceServer and self-play actors) and version."""
        self._expect(instance)
        return state_dict_to_bytes(self.learner.weights()), self.version

    def state(self, *, instance: str | None = None) -> dict[str, Any]:
        """The full training state: model, optimizer, scheduler, scaler, counters, torch's
        CPU and CUDA RNGs. A copy: later training never changes a state already handed out."""
        self._expect(instance)
        state = {
            "learner": copy.deepcopy(self.learner.state_dict()),
            "version": self.version,
            "torch_rng": torch.get_rng_state(),
        }
        if self.learner.device.type == "cuda":  # (a CPU learner never touches CUDA)
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state(self, state: dict[str, Any]) -> int:
        """Restore :meth:`state`; training continues exactly where it was checkpointed."""
        self.learner.load_state_dict(state["learner"])
        self.version = int(state["version"])
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        cuda_rng = state.get("cuda_rng")
        if cuda_rng is not None and self.learner.device.type == "cuda":
            if len(cuda_rng) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda_rng)
            else:  # another machine: the CUDA streams start afresh
                log.warning(
                    "checkpoint has CUDA RNG states for %d devices, this process sees %d; "
                    "not restored",
                    len(cuda_rng),
                    torch.cuda.device_count(),
                )
        return self.version

    def rate(self) -> float:
        """Optimizer steps per second over the last iteration."""
        return self.steps_per_s

    def lr(self) -> float:
        return float(self.learner.scheduler.lr)

    def ping(self) -> str:
        return "learner"
