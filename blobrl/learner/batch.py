"""What the learner reports (it trains on :class:`blobrl.data.TrainingBatch`)."""

from __future__ import annotations

from dataclasses import dataclass


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
    # The learned rollout rule (search.rollout: learned), fitted after the steps: card decisions
    # fitted to (0: no fit), and the share of held-out ones where the rule picks the search's
    # most visited card, for the rule in use after the fit and the one before it.
    rollout_decisions: int = 0
    rollout_agreement: float = float("nan")
    rollout_previous_agreement: float = float("nan")
