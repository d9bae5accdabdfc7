"""What the learner trains on and what it reports."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS


@dataclass(frozen=True)
class TrainingBatch:
    """A batch of ``B`` positions sampled from the replay buffer.

    * ``features``: ``float32[B, FEATURES]`` information states of the acting player;
    * ``legal_mask``: ``bool[B, 65]`` legal actions;
    * ``policy_target``: ``float32[B, 65]`` the search's visit distribution (sums to 1, zero on
      illegal actions);
    * ``value_target``: ``float32[B, 8]`` final score of each relative seat normalized to [0, 1];
    * ``seat_mask``: ``bool[B, 8]`` which relative seats exist at that table;
    * ``trick_target``: ``int64[B, 8]`` tricks each relative seat still takes from the position
      (-1 where unknown), the target of a trick-count head; None trains no trick head.
    """

    features: np.ndarray
    legal_mask: np.ndarray
    policy_target: np.ndarray
    value_target: np.ndarray
    seat_mask: np.ndarray
    trick_target: np.ndarray | None = None

    def __post_init__(self) -> None:
        size = self.features.shape[0]
        expected = {
            "features": ((size, FEATURES), np.float32),
            "legal_mask": ((size, NUM_ACTIONS), np.bool_),
            "policy_target": ((size, NUM_ACTIONS), np.float32),
            "value_target": ((size, MAX_PLAYERS), np.float32),
            "seat_mask": ((size, MAX_PLAYERS), np.bool_),
            "trick_target": ((size, MAX_PLAYERS), np.int64),
        }
        for name, (shape, dtype) in expected.items():
            array = getattr(self, name)
            if array is None and name == "trick_target":
                continue
            if array.shape != shape or array.dtype != dtype:
                raise ValueError(
                    f"TrainingBatch.{name} must be {np.dtype(dtype).name}{list(shape)}, "
                    f"got {array.dtype.name}{list(array.shape)}"
                )

    def __len__(self) -> int:
        return self.features.shape[0]


@dataclass(frozen=True)
class StepMetrics:
    """One optimizer step. Losses are batch means; ``skipped`` steps changed no weights."""

    policy_loss: float  # cross-entropy with the (smoothed) search distribution, nats
    value_loss: float  # mean squared error over present seats (the quartic term not included)
    total_loss: float  # policy + value_loss_weight * (value + quartic_weight * quartic)
    policy_accuracy: float  # fraction where argmax of the net equals argmax of the target
    policy_entropy: float  # entropy of the net's policy over legal actions, nats
    value_error: float  # calibration error: mean |predicted - target| over present seats
    grad_norm: float  # global L2 norm before clipping (nan when not computed)
    lr: float
    skipped: bool
    trick_loss: float = float("nan")  # cross-entropy of the trick-count head, nats (nan: none)


@dataclass(frozen=True)
class CurvePoint:
    """Means of :class:`StepMetrics` over a stretch of consecutive steps (the not skipped ones):
    one point of the learning curve per training step, ``step`` being the run's step count at
    the end of the stretch."""

    step: int
    policy_loss: float
    value_loss: float
    total_loss: float
    trick_loss: float  # nan: no trick-count head
    lr: float  # at the last step of the stretch


@dataclass(frozen=True)
class IterationMetrics:
    """Means of :class:`StepMetrics` over the steps of one iteration that were not skipped."""

    iteration: int
    steps: int  # steps taken, skipped ones included
    skipped_steps: int
    policy_loss: float
    value_loss: float
    total_loss: float
    policy_accuracy: float
    policy_entropy: float
    value_error: float
    grad_norm: float
    lr: float
    trick_loss: float = float("nan")
    # Data reuse (learner.replay_ratio = samples / positions):
    positions: int = 0  # positions the iteration's self-play games generated
    samples: int = 0  # positions sampled for training (steps x batch size, skipped included)
    positions_total: int = 0  # positions generated over the run, through this iteration
    samples_total: int = 0  # positions sampled for training over the run
    # The learning curve within the iteration: at most CURVE_POINTS points, every N steps.
    curve: tuple[CurvePoint, ...] = ()
    # Throughput, set by the learner actor: when training started (Unix time; the iteration's
    # games were all in then), how long it took (s), and what the replay buffer held.
    train_started: float = float("nan")
    train_seconds: float = float("nan")
    buffer_positions: int = 0
