"""Training the network on replayed self-play: losses, optimizer, learning-rate schedule."""

from blobrl.learner.batch import CurvePoint, IterationMetrics, StepMetrics
from blobrl.learner.config import LearnerConfig
from blobrl.learner.learner import Learner, LearnerRestarted, TrainingDiverged
from blobrl.learner.reuse import realized_ratio, steps_for
from blobrl.learner.schedule import WarmupCosineScheduler

__all__ = [
    "CurvePoint",
    "IterationMetrics",
    "Learner",
    "LearnerConfig",
    "LearnerRestarted",
    "StepMetrics",
    "TrainingDiverged",
    "WarmupCosineScheduler",
    "realized_ratio",
    "steps_for",
]
