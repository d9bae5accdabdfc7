"""The learning curve an iteration reports: a few points, each the mean of a stretch of steps."""

from __future__ import annotations

import math

import pytest

from blobrl.learner import StepMetrics
from blobrl.learner.learner import CURVE_POINTS, learning_curve


def step(loss: float, *, skipped: bool = False, lr: float = 1e-3) -> StepMetrics:
    return StepMetrics(
        policy_loss=loss, value_loss=loss / 2, total_loss=1.5 * loss, policy_accuracy=0.5,
        policy_entropy=1.0, value_error=0.1, grad_norm=1.0, lr=lr, skipped=skipped,
        trick_loss=loss / 4,
    )  # fmt: skip


@pytest.mark.parametrize("count", [1, 7, 8, 9, 100, 1001])
def test_curve_has_at_most_curve_points_ending_at_the_last_step(count):
    curve = learning_curve([step(1.0)] * count, last_step=5000 + count)
    assert 1 <= len(curve) <= CURVE_POINTS
    assert curve[-1].step == 5000 + count
    assert [p.step for p in curve] == sorted({p.step for p in curve})


def test_each_point_is_the_mean_of_its_stretch_without_skipped_steps():
    steps = [step(1.0), step(3.0), step(99.0, skipped=True), step(5.0, lr=2e-3)]
    curve = learning_curve(steps, last_step=4, points=2)
    assert [p.step for p in curve] == [2, 4]
    assert [p.policy_loss for p in curve] == [2.0, 5.0]
    assert curve[1].trick_loss == 1.25 and curve[1].lr == 2e-3


def test_a_stretch_of_skipped_steps_gives_no_point_and_no_steps_give_no_curve():
    assert learning_curve([], last_step=0) == ()
    curve = learning_curve([step(1.0, skipped=True), step(2.0)], last_step=2, points=2)
    assert [(p.step, p.policy_loss) for p in curve] == [(2, 2.0)]
    assert not any(math.isnan(p.value_loss) for p in curve)
