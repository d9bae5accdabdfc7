"""LearnerService: trains on batches pulled from the replay buffer and publishes weights."""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import torch

from blobrl.data import TrainingBatch
from blobrl.learner import (
    IterationMetrics,
    Learner,
    LearnerConfig,
    LearnerRestarted,
    realized_ratio,
)
from blobrl.learner.rollout_fit import RolloutFit, fit_rollout
from blobrl.nn import NetworkConfig, build_network, state_dict_to_bytes
from blobrl.remote import Remote
from blobrl.run import ReplayPort

log = logging.getLogger(__name__)


class LearnerService:
    """One iteration of training per :meth:`train_iteration` call; weights version = iterations
    trained.

    Ray restarts a lost learner with fresh weights. The calls whose answer depends on the
    training state take the ``instance`` the caller expects (:meth:`instance`) and raise
    :class:`LearnerRestarted` when it has changed, so a fresh learner is never mistaken for the
    trained one: the Coordinator loads the last checkpoint into it first.

    No step is taken while the replay buffer holds fewer than ``min_positions``
    (``replay.min_positions_to_train``): such an iteration trains 0 steps and says so, and the
    samples its positions are owed are trained once the buffer has filled.

    With ``fit_rollout`` (a search of the run plays ``rollout: learned``), each iteration ends
    by fitting the network's rollout rule to the replay buffer's newest card decisions
    (:func:`blobrl.learner.rollout_fit.fit_rollout`); the rule travels with the weights.
    """

    def __init__(
        self,
        network: NetworkConfig,
        config: LearnerConfig,
        *,
        total_iterations: int,
        replay: Any,
        min_positions: int = 1,
        fit_rollout: bool = False,
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
        self.replay: Remote[ReplayPort] = Remote(replay)
        self.min_positions = max(1, min_positions)  # (an empty buffer cannot be sampled)
        self.fit_rollout = fit_rollout
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

    def train_iteration(
        self, iteration: int, *, positions: int, instance: str | None = None
    ) -> IterationMetrics:
        """Train iteration ``iteration``, whose games generated ``positions``: the steps that
        keep ``learner.replay_ratio`` (:meth:`Learner.steps_owed`), or none while the buffer
        holds fewer than ``min_positions``; then step the LR schedule. Samples are fetched one
        step ahead so the replay actor and the optimizer overlap."""
        self._expect(instance)
        cfg = self.learner.config
        started_at = time.time()
        start = time.perf_counter()
        held = int(self.replay.call(ReplayPort.size).result())
        steps = self.learner.steps_owed(positions) if held >= self.min_positions else 0
        if steps == 0:
            log.info(
                "iteration %d: the replay buffer holds %d positions, fewer than "
                "replay.min_positions_to_train (%d): no training steps",
                iteration,
                held,
                self.min_positions,
            )
        for batch in self._batches(steps, cfg.batch_size):
            self.learner.train_step(batch)
        rollout = self._fit_rollout(iteration) if self.fit_rollout and steps else None
        elapsed = time.perf_counter() - start
        metrics = replace(
            self.learner.end_iteration(positions=positions),
            train_started=started_at,
            train_seconds=round(elapsed, 3),
            buffer_positions=held,
        )
        if rollout is not None:
            metrics = replace(
                metrics,
                rollout_decisions=rollout.decisions,
                rollout_agreement=rollout.agreement,
                rollout_previous_agreement=rollout.previous_agreement,
            )
        self.version = iteration
        self.steps_per_s = steps / elapsed if elapsed > 0 and steps else 0.0
        log.info(
            "trained iteration %d: %d steps, %.2f samples per position (%.2f over the run); "
            "loss %.4f (policy %.4f, value %.4f, tricks %.4f), %.1f steps/s",
            iteration,
            steps,
            realized_ratio(metrics.samples, metrics.positions) or 0.0,
            realized_ratio(metrics.samples_total, metrics.positions_total) or 0.0,
            metrics.total_loss,
            metrics.policy_loss,
            metrics.value_loss,
            metrics.trick_loss,
            self.steps_per_s,
        )
        return metrics

    def _fit_rollout(self, iteration: int) -> RolloutFit:
        """Fit the network's rollout rule to the replay buffer's newest card decisions."""
        rows = self.replay.call(ReplayPort.card_decisions).result()
        held = self.learner.model.rollout_weights
        fit = fit_rollout(rows, held.detach().cpu().numpy(), seed=iteration)
        if fit.adopted:
            with torch.no_grad():
                held.copy_(torch.from_numpy(fit.weights))
        log.info(
            "iteration %d: rollout rule %s on %d card decisions: picks the search's card in "
            "%.1f%% of held-out ones (%.1f%% before), %.1f s",
            iteration,
            "refitted" if fit.adopted else "kept",
            fit.decisions,
            100 * fit.agreement,
            100 * fit.previous_agreement,
            fit.seconds,
        )
        return fit

    def _batches(self, count: int, size: int) -> Iterator[TrainingBatch]:
        """``count`` batches of ``size`` positions, each sampled while the one before trains."""
        if count == 0:
            return
        pending = self.replay.call(ReplayPort.sample, size)
        for i in range(count):
            batch = pending.result()
            if i + 1 < count:
                pending = self.replay.call(ReplayPort.sample, size)
            yield batch

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

    @staticmethod
    def state_weights(state: dict[str, Any]) -> bytes:
        """The network weights in a :meth:`state` (a checkpoint's), as :meth:`weights_bytes`
        gives them."""
        return state_dict_to_bytes(state["learner"]["model"])

    def rate(self) -> float:
        """Optimizer steps per second over the last iteration."""
        return self.steps_per_s
