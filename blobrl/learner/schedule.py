"""Learning rate per training iteration: linear warmup, then cosine decay, then a floor."""

from __future__ import annotations

import math
from typing import Any

import torch


class WarmupCosineScheduler:
    """Sets an optimizer's learning rate once per training iteration.

    Iterations are numbered from 1 as in the run's schedule; ``lr_at(0) = 0`` is the start of
    the curve. The rate rises linearly from 0 to ``lr_max`` at iteration ``warmup``, falls along
    a half cosine to ``lr_min`` at iteration ``total`` and stays at ``lr_min`` after that.
    The scheduler starts at iteration 1 and sets that rate on construction; :meth:`step` moves
    to the next iteration.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        lr_max: float,
        lr_min: float,
        warmup: int,
        total: int,
    ) -> None:
        if not 0.0 <= lr_min <= lr_max:
            raise ValueError(f"need 0 <= lr_min <= lr_max, got lr_min={lr_min}, lr_max={lr_max}")
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0 iterations, got {warmup}")
        if total < max(warmup, 1):
            raise ValueError(f"total ({total}) must be >= warmup ({warmup}) and >= 1")
        self.optimizer = optimizer
        self.lr_max = lr_max
        self.lr_min = lr_min
        self.warmup = warmup
        self.total = total
        self.iteration = 1
        self._apply()

    def lr_at(self, iteration: int) -> float:
        """Learning rate of training iteration ``iteration`` (1-based; 0 gives 0 when warming
        up)."""
        if iteration < self.warmup:
            return self.lr_max * max(iteration, 0) / self.warmup
        if iteration >= self.total:
            return self.lr_min
        span = self.total - self.warmup
        progress = (iteration - self.warmup) / span
        return self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (
            1.0 + math.cos(math.pi * progress)
        )

    @property
    def lr(self) -> float:
        """Learning rate of the current iteration."""
        return self.lr_at(self.iteration)

    def step(self) -> None:
        """Move to the next iteration and set its learning rate (call once per iteration)."""
        self.iteration += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "lr_max": self.lr_max,
            "lr_min": self.lr_min,
            "warmup": self.warmup,
            "total": self.total,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the iteration. The curve itself comes from the current config, so a resumed
        run may change it; the saved shape is kept only as a record."""
        self.iteration = int(state["iteration"])
        self._apply()

    def _apply(self) -> None:
        lr = self.lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr
