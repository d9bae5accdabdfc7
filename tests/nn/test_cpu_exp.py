"""The float32 exp that lets the trick-value kernel vectorize: within 1 ulp, 0 below its range."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from blobrl.nn.cpu import EXP_MIN, exp_nonpositive


@njit(cache=False)
def exp_each(xs: np.ndarray) -> np.ndarray:
    out = np.empty_like(xs)
    for k in range(xs.size):
        out[k] = exp_nonpositive(xs[k])
    return out


def ulps_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many float32 values lie between ``a`` and ``b`` (same sign, finite)."""
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_exp_is_within_one_ulp_of_the_correctly_rounded_value(seed):
    """Uniform values over the range, and uniform bit patterns (which reach the tiny ones)."""
    rng = np.random.default_rng(seed)
    uniform = rng.uniform(EXP_MIN, 0.0, 50_000).astype(np.float32)
    bottom = int(np.array([EXP_MIN], np.float32).view(np.uint32)[0])
    patterns = rng.integers(0x80000000, bottom, 50_000, endpoint=True).astype(np.uint32)
    xs = np.concatenate([uniform, patterns.view(np.float32)])
    want = np.exp(xs.astype(np.float64)).astype(np.float32)
    assert ulps_apart(exp_each(xs), want).max() <= 1


def test_exp_at_the_ends_of_its_range():
    xs = np.array([0.0, -0.0, -1e-30, EXP_MIN, np.log(2.0), -np.log(2.0) / 2], np.float32)
    xs = xs[xs <= 0]
    want = np.exp(xs.astype(np.float64)).astype(np.float32)
    assert ulps_apart(exp_each(xs), want).max() <= 1
    assert exp_each(np.array([0.0], np.float32))[0] == 1.0


@pytest.mark.parametrize("x", [-87.01, -88.0, -103.0, -1e9, -np.inf])
def test_exp_below_its_range_is_zero(x):
    """Where exp underflows to (near) subnormals the answer is 0, an error under 2e-38."""
    assert exp_each(np.array([x], np.float32))[0] == 0.0


def test_exp_of_nan_is_nan():
    assert np.isnan(exp_each(np.array([np.nan], np.float32))[0])


def test_exp_keeps_its_accuracy_when_compiled_first_inside_the_trick_kernel(tmp_path):
    """A caller's fast-math flags reach the exp once it is inlined: compiled first through
    trick_values (in a fresh process and cache), it must still be within 1 ulp."""
    script = """
import numpy as np, torch
from numba import njit
from blobrl.game import FEATURES
from blobrl.nn.cpu import EXP_MIN, exp_nonpositive, seat_values_cpu
seat_values_cpu(torch.randn(4, 104), torch.zeros(4, FEATURES), "blob", -1e4)
@njit
def each(xs):
    out = np.empty_like(xs)
    for k in range(xs.size):
        out[k] = exp_nonpositive(xs[k])
    return out
xs = np.linspace(EXP_MIN, 0.0, 200_001, dtype=np.float32)
want = np.exp(xs.astype(np.float64)).astype(np.float32)
got = each(xs)
print(int(np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32)).max()))
"""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) <= 1
