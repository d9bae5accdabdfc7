"""Learner configuration: optimizer, schedule, losses and safety limits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

AMP_MODES = ("auto", "bf16", "fp16", "off")
# Samples trained per position generated when a config sets neither replay_ratio nor
# steps_per_iteration. configs/smoke.yaml, the run that beats the heuristic, trained 400 x 256
# samples per 1,200-1,500 games of ~25.9 positions: 3.3 in its first phase, 2.6 after (2.8
# over the run); the default is that steady 2.6, rounded down.
DEFAULT_REPLAY_RATIO = 2.5


@dataclass(frozen=True)
class LearnerConfig:
    """How the network is trained.

    The learning rate follows :class:`WarmupCosineScheduler` with ``lr_max``, ``lr_min`` and
    ``warmup_iterations``; its end (the run's last iteration) comes from the run schedule, not
    from here. ``amp``: ``auto`` is bf16 autocast on a CUDA device that supports it, else fp16
    with a gradient scaler on CUDA, and full float32 on a CPU; ``bf16``/``fp16`` force that
    precision on CUDA (still float32 on a CPU); ``off`` is float32 everywhere.

    Data reuse is ``replay_ratio``: positions trained (optimizer steps x ``batch_size``) per
    position the iteration's self-play generated; :func:`blobrl.learner.reuse.steps_for` turns
    it into each iteration's step count. ``steps_per_iteration`` instead fixes the step count
    (tests, benchmarks); the two are exclusive, and with neither set ``replay_ratio`` is
    :data:`DEFAULT_REPLAY_RATIO`.
    """

    lr_max: float = 1e-3
    lr_min: float = 1e-5
    warmup_iterations: int = 10
    weight_decay: float = 1e-4  # AdamW, decoupled
    batch_size: int = 1024  # positions per step
    replay_ratio: float | None = None  # samples trained per position generated
    steps_per_iteration: int | None = None  # a fixed step count instead of replay_ratio
    grad_clip: float = 1.0  # global L2 norm the gradient is clipped to
    # A step whose gradient norm (before clipping) is above this is skipped as an explosion.
    skip_grad_norm: float = 1e3
    value_loss_weight: float = 1.0
    quartic_weight: float = 0.0  # weight of mean (value - target)^4, punishes large misses
    trick_loss_weight: float = 1.0  # cross-entropy of a trick-count head (value_head: tricks)
    label_smoothing: float = 0.0  # mixes the policy target with uniform over legal actions
    max_bad_steps_in_row: int = 20  # skipped steps in a row before training is declared diverged
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    # The newest self-play card decisions the learned rollout rule is fitted to after each
    # iteration's steps, when a search of the run plays ``rollout: learned``.
    rollout_decisions: int = 60_000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lr_max) and self.lr_max > 0):  # before lr_min, checked by it
            raise ValueError(f"learner.lr_max must be a number > 0, got {self.lr_max}")
        if not 0.0 <= self.lr_min <= self.lr_max:
            raise ValueError(
                f"learner.lr_min must be in [0, lr_max], got lr_min={self.lr_min}, "
                f"lr_max={self.lr_max}"
            )
        for name in ("warmup_iterations",):
            if getattr(self, name) < 0:
                raise ValueError(f"learner.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "max_bad_steps_in_row", "rollout_decisions"):
            if getattr(self, name) < 1:
                raise ValueError(f"learner.{name} must be >= 1, got {getattr(self, name)}")
        self._check_reuse()
        for name in ("weight_decay", "value_loss_weight", "quartic_weight", "trick_loss_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"learner.{name} must be >= 0, got {getattr(self, name)}")
        if self.grad_clip <= 0:
            raise ValueError(f"learner.grad_clip must be > 0, got {self.grad_clip}")
        if self.skip_grad_norm <= 0:
            raise ValueError(f"learner.skip_grad_norm must be > 0, got {self.skip_grad_norm}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(
                f"learner.label_smoothing must be in [0, 1), got {self.label_smoothing}"
            )
        if self.amp not in AMP_MODES:
            raise ValueError(f"learner.amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")

    def _check_reuse(self) -> None:
        ratio, steps = self.replay_ratio, self.steps_per_iteration
        if ratio is not None and steps is not None:
            raise ValueError(
                f"learner.replay_ratio ({ratio}) and learner.steps_per_iteration ({steps}) "
                f"are exclusive: set replay_ratio (positions trained per position generated), "
                f"or steps_per_iteration for a fixed step count and replay_ratio: null"
            )
        if steps is not None and steps < 1:
            raise ValueError(f"learner.steps_per_iteration must be >= 1, got {steps}")
        if ratio is not None and not (math.isfinite(ratio) and ratio > 0):
            raise ValueError(
                f"learner.replay_ratio must be a number > 0 (positions trained per position "
                f"generated), got {ratio}"
            )
        if ratio is None and steps is None:
            object.__setattr__(self, "replay_ratio", DEFAULT_REPLAY_RATIO)
