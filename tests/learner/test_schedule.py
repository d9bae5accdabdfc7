import itertools
import math

import pytest
import torch

from blobrl.learner import WarmupCosineScheduler


def aggressive(optimizer=None) -> WarmupCosineScheduler:
    optimizer = optimizer or torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    return WarmupCosineScheduler(optimizer, lr_max=1e-3, lr_min=1e-5, warmup=10, total=500)


def test_lr_warms_up_linearly_from_zero_to_lr_max():
    sched = aggressive()
    assert sched.lr_at(0) == 0.0
    warmup = [sched.lr_at(i) for i in range(11)]
    assert all(b > a for a, b in itertools.pairwise(warmup))
    assert sched.lr_at(5) == pytest.approx(5e-4)
    assert sched.lr_at(10) == pytest.approx(1e-3)


def test_lr_decays_by_cosine_to_lr_min_and_stays_there():
    sched = aggressive()
    decay = [sched.lr_at(i) for i in range(10, 501)]
    assert all(b <= a for a, b in itertools.pairwise(decay))
    assert sched.lr_at(255) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))
    assert sched.lr_at(500) == pytest.approx(1e-5)
    assert sched.lr_at(10_000) == pytest.approx(1e-5)


def test_step_sets_the_optimizer_lr_once_per_iteration():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=123.0)
    sched = aggressive(optimizer)
    assert sched.iteration == 1
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    for _ in range(9):
        sched.step()
    assert sched.iteration == 10
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_state_dict_round_trip_continues_the_same_curve():
    first = aggressive()
    for _ in range(37):
        first.step()
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    second = aggressive(optimizer)
    second.load_state_dict(first.state_dict())
    assert optimizer.param_groups[0]["lr"] == first.lr
    for _ in range(100):
        first.step()
        second.step()
        assert second.lr == first.lr
        assert optimizer.param_groups[0]["lr"] == first.lr


def test_no_warmup_starts_near_lr_max():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    sched = WarmupCosineScheduler(optimizer, lr_max=1.0, lr_min=0.0, warmup=0, total=100)
    assert sched.lr_at(0) == 1.0
    assert sched.lr == pytest.approx(0.5 * (1 + math.cos(math.pi / 100)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr_max": 1e-3, "lr_min": 1e-2, "warmup": 10, "total": 500},
        {"lr_max": 1e-3, "lr_min": 1e-5, "warmup": -1, "total": 500},
        {"lr_max": 1e-3, "lr_min": 1e-5, "warmup": 10, "total": 5},
    ],
)
def test_inconsistent_curves_are_rejected(kwargs):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    with pytest.raises(ValueError):
        WarmupCosineScheduler(optimizer, **kwargs)
