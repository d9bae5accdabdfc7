"""The learner: AdamW on policy cross-entropy, seat-value regression and (for a trick-count head)
trick-count cross-entropy, with safety checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from blobrl.learner.batch import IterationMetrics, StepMetrics, TrainingBatch
from blobrl.learner.config import LearnerConfig
from blobrl.learner.schedule import WarmupCosineScheduler
from blobrl.nn import BlobNet, masked_logits

STATE_FORMAT = 1


class TrainingDiverged(RuntimeError):
    """Too many optimizer steps in a row had a non-finite loss or an exploding gradient."""


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``mode`` on ``device``; None means float32 (no autocast)."""
    if device.type != "cuda" or mode == "off":
        return None
    if mode == "fp16" or (mode == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


class Learner:
    """Trains a :class:`BlobNet` in place.

    Holds the model (moved to ``device``, default CUDA when available), AdamW, the
    :class:`WarmupCosineScheduler` ending at ``total_iterations`` and a gradient scaler (active
    only under fp16 autocast on CUDA). Call :meth:`train_step` for each batch and
    :meth:`end_iteration` once per iteration.

    A step whose loss is not finite, or whose gradient norm is not finite or exceeds
    ``config.skip_grad_norm``, changes no weights and is counted; after
    ``config.max_bad_steps_in_row`` such steps in a row :class:`TrainingDiverged` is raised.
    (An fp16 overflow that the gradient scaler handles is skipped too, but is not counted as bad.)
    """

    def __init__(
        self,
        model: BlobNet,
        config: LearnerConfig,
        *,
        total_iterations: int,
        device: str | torch.device | None = None,
    ) -> None:
        self.config = config
        self.device = default_device() if device is None else torch.device(device)
        self.model = model.to(self.device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr_max, weight_decay=config.weight_decay
        )
        self.scheduler = WarmupCosineScheduler(
            self.optimizer,
            lr_max=config.lr_max,
            lr_min=config.lr_min,
            warmup=config.warmup_iterations,
            total=total_iterations,
        )
        self.amp_dtype = _amp_dtype(config.amp, self.device)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )
        self.total_steps = 0  # optimizer steps attempted, skipped ones included
        self.skipped_total = 0
        self.bad_steps_in_row = 0
        self._iteration_steps: list[StepMetrics] = []

    @property
    def iteration(self) -> int:
        """The training iteration now in progress (1-based)."""
        return self.scheduler.iteration

    # ---- training ---------------------------------------------------------------------------

    def train_step(self, batch: TrainingBatch) -> StepMetrics:
        """One optimizer step on ``batch``; see the class docstring for skipped steps."""
        cfg = self.config
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        features, legal, target_p, target_v, seats = self._to_device(batch)

        with torch.autocast(
            device_type=self.device.type,
            dtype=self.amp_dtype or torch.float32,
            enabled=self.amp_dtype is not None,
        ):
            logits, values, trick_log_probs = self.model.heads(features)
        logits = masked_logits(logits.float(), legal)  # [B, 65]
        values = values.float()  # [B, 8]

        if cfg.label_smoothing > 0:
            uniform = legal.float() / legal.sum(dim=1, keepdim=True).clamp(min=1)
            target_p = (1 - cfg.label_smoothing) * target_p + cfg.label_smoothing * uniform
        log_p = F.log_softmax(logits, dim=1)  # [B, 65]
        # Illegal entries are zero in the target; ``where`` keeps 0 * (-1e9) out of the sum.
        policy_loss = -torch.where(legal, target_p * log_p, 0.0).sum(dim=1).mean()

        seat_w = seats.float()  # [B, 8]
        present = seat_w.sum().clamp(min=1)
        diff = values - target_v
        value_loss = (diff.square() * seat_w).sum() / present
        quartic = (diff.square().square() * seat_w).sum() / present
        total = policy_loss + cfg.value_loss_weight * (value_loss + cfg.quartic_weight * quartic)
        trick_loss = self._trick_loss(trick_log_probs, batch, seats)
        if trick_loss is not None:
            total = total + cfg.trick_loss_weight * trick_loss

        with torch.no_grad():
            probs = log_p.exp()
            entropy = -torch.where(legal, probs * log_p, 0.0).sum(dim=1).mean()
            accuracy = (logits.argmax(dim=1) == target_p.argmax(dim=1)).float().mean()
            value_error = (diff.abs() * seat_w).sum() / present
        lr = self.scheduler.lr

        self.total_steps += 1
        if not torch.isfinite(total).item():
            return self._record(self._bad_step(lr))

        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip))
        skipped = False
        if self.scaler.is_enabled() and not math.isfinite(grad_norm):
            # fp16 overflow: the scaler skips the step and lowers its scale. Expected, not bad.
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.skipped_total += 1
            skipped = True
        elif not math.isfinite(grad_norm) or grad_norm > cfg.skip_grad_norm:
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.update()
            return self._record(self._bad_step(lr, grad_norm=grad_norm))
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.bad_steps_in_row = 0

        no_tricks = torch.full_like(total, math.nan)
        policy, value, total_host, acc, ent, err, tricks = torch.stack(
            [policy_loss, value_loss, total, accuracy, entropy, value_error,
             no_tricks if trick_loss is None else trick_loss.detach()]
        ).tolist()  # one device sync for all  # fmt: skip
        return self._record(
            StepMetrics(
                policy_loss=policy,
                value_loss=value,
                total_loss=total_host,
                policy_accuracy=acc,
                policy_entropy=ent,
                value_error=err,
                grad_norm=grad_norm,
                lr=lr,
                skipped=skipped,
                trick_loss=tricks,
            )
        )

    def run_iteration(self, next_batch: Callable[[], TrainingBatch]) -> IterationMetrics:
        """``config.steps_per_iteration`` steps on batches from ``next_batch``, then
        :meth:`end_iteration`."""
        for _ in range(self.config.steps_per_iteration):
            self.train_step(next_batch())
        return self.end_iteration()

    def end_iteration(self) -> IterationMetrics:
        """Summarize the iteration's steps, then move the learning rate to the next iteration."""
        steps = self._iteration_steps
        taken = [s for s in steps if not s.skipped]

        def mean(name: str) -> float:
            return float(np.mean([getattr(s, name) for s in taken])) if taken else math.nan

        metrics = IterationMetrics(
            iteration=self.scheduler.iteration,
            steps=len(steps),
            skipped_steps=len(steps) - len(taken),
            policy_loss=mean("policy_loss"),
            value_loss=mean("value_loss"),
            total_loss=mean("total_loss"),
            policy_accuracy=mean("policy_accuracy"),
            policy_entropy=mean("policy_entropy"),
            value_error=mean("value_error"),
            grad_norm=mean("grad_norm"),
            lr=self.scheduler.lr,
            trick_loss=mean("trick_loss"),
        )
        self._iteration_steps = []
        self.scheduler.step()
        return metrics

    def weights(self) -> dict[str, torch.Tensor]:
        """The model's state dict on the CPU (detached copies), ready to publish."""
        return {
            name: t.detach().to("cpu", copy=True) for name, t in self.model.state_dict().items()
        }

    # ---- checkpointing ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training exactly: model, optimizer, scheduler, scaler,
        counters. Tensors and plain values only (loadable with ``weights_only=True``)."""
        return {
            "format": STATE_FORMAT,
            "model": self.weights(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "total_steps": self.total_steps,
            "skipped_total": self.skipped_total,
            "bad_steps_in_row": self.bad_steps_in_row,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"learner state has format {state.get('format')!r}, expected {STATE_FORMAT}"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])  # after the optimizer: it sets the lr
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.total_steps = int(state["total_steps"])
        self.skipped_total = int(state["skipped_total"])
        self.bad_steps_in_row = int(state["bad_steps_in_row"])
        self._iteration_steps = []

    # ---- internals --------------------------------------------------------------------------

    def _to_device(self, batch: TrainingBatch) -> tuple[torch.Tensor, ...]:
        non_blocking = self.device.type == "cuda"
        return tuple(
            torch.from_numpy(np.ascontiguousarray(array)).to(self.device, non_blocking=non_blocking)
            for array in (
                batch.features,
                batch.legal_mask,
                batch.policy_target,
                batch.value_target,
                batch.seat_mask,
            )
        )

    def _trick_loss(
        self, log_probs: torch.Tensor | None, batch: TrainingBatch, seats: torch.Tensor
    ) -> torch.Tensor | None:
        """Mean cross-entropy of the trick-count head over the present seats whose count is
        known; None when the network has no such head or the batch no targets."""
        if log_probs is None or batch.trick_target is None:
            return None
        target = torch.from_numpy(batch.trick_target).to(self.device)  # [B, 8]
        known = seats & (target >= 0) & (target < log_probs.shape[2])
        picked = log_probs.float().gather(2, target.clamp(min=0)[..., None]).squeeze(2)
        return -(picked * known).sum() / known.sum().clamp(min=1)

    def _bad_step(self, lr: float, *, grad_norm: float = math.nan) -> StepMetrics:
        self.skipped_total += 1
        self.bad_steps_in_row += 1
        if self.bad_steps_in_row >= self.config.max_bad_steps_in_row:
            raise TrainingDiverged(
                f"{self.bad_steps_in_row} training steps in a row had a non-finite loss or a "
                f"gradient norm above {self.config.skip_grad_norm} (last grad norm {grad_norm}); "
                f"lower learner.lr_max or check the replay data for NaN or Inf"
            )
        nan = math.nan
        return StepMetrics(nan, nan, nan, nan, nan, nan, grad_norm=grad_norm, lr=lr, skipped=True)

    def _record(self, metrics: StepMetrics) -> StepMetrics:
        self._iteration_steps.append(metrics)
        return metrics
