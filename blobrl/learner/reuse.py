"""Data reuse: the optimizer steps that keep positions trained per position generated at
``learner.replay_ratio``.

The step count of an iteration is worked out from the run's totals, not from the iteration
alone: the samples still owed, ``replay_ratio * positions - samples``, in whole batches. What
one iteration's rounding leaves over is owed by the next, so the realized ratio converges to the
configured one instead of drifting by a rounding error per iteration.
"""

from __future__ import annotations

from blobrl.learner.config import LearnerConfig


def steps_for(config: LearnerConfig, *, positions: int, samples: int) -> int:
    """Optimizer steps of the next iteration.

    ``positions``: positions generated over the run through this iteration; ``samples``:
    positions sampled for training before it. With ``config.steps_per_iteration`` set that is
    the answer; otherwise the owed samples in batches of ``config.batch_size``, rounded to the
    nearest and at least 1 (an iteration that may train always takes a step; later ones take
    it back from what they owe).
    """
    if config.steps_per_iteration is not None:
        return config.steps_per_iteration
    ratio = config.replay_ratio
    assert ratio is not None  # LearnerConfig sets one of the two
    owed = ratio * positions - samples
    return max(1, round(owed / config.batch_size))


def realized_ratio(samples: int, positions: int) -> float | None:
    """Samples trained per position generated; None before any position."""
    return samples / positions if positions > 0 else None
