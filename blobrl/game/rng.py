"""A tiny per-stream random generator usable inside numba kernels.

Every game (and every search tree) owns one ``uint64`` word of state in an array, so the random
numbers one game draws never depend on what else shares its batch. The generator is splitmix64:
one add, two multiplies, three xor-shifts per draw, and it passes BigCrush.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0


def seed_streams(seeds: np.ndarray | list[int] | int) -> np.ndarray:
    """Turn integer seeds into generator states (``uint64[len(seeds)]``).

    Each seed is scrambled once with the splitmix64 finaliser so that nearby seeds (0, 1, 2, ...)
    start far apart.
    """
    mask = (1 << 64) - 1
    out = []
    for seed in np.atleast_1d(np.asarray(seeds)).tolist():
        z = (int(seed) + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return np.array(out, dtype=np.uint64)


@njit(cache=True, inline="always")
def next_u64(rs: np.ndarray, i: int) -> np.uint64:
    """Advance stream ``i`` of ``rs`` (uint64 array) and return 64 random bits."""
    z = rs[i] + _GOLDEN
    rs[i] = z
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform(rs: np.ndarray, i: int) -> float:
    """A float in [0, 1)."""
    return float(next_u64(rs, i) >> _S11) * _INV_2_53


@njit(cache=True, inline="always")
def randint(rs: np.ndarray, i: int, n: int) -> int:
    """An integer in [0, n); n >= 1."""
    k = int(uniform(rs, i) * n)
    return k if k < n else n - 1


@njit(cache=True)
def normal(rs: np.ndarray, i: int) -> float:
    """A standard normal draw (Box-Muller)."""
    u1 = uniform(rs, i)
    u2 = uniform(rs, i)
    if u1 < 1e-300:
        u1 = 1e-300
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def gamma(rs: np.ndarray, i: int, shape: float) -> float:
    """A Gamma(shape, 1) draw (Marsaglia-Tsang; boosted for shape < 1)."""
    boost = 1.0
    if shape < 1.0:
        u = uniform(rs, i)
        if u < 1e-300:
            u = 1e-300
        boost = u ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(rs, i)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(rs, i)
        if u < 1.0 - 0.0331 * x * x * x * x:
            return d * v * boost
        if math.log(u + 1e-300) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return d * v * boost


@njit(cache=True)
def gumbel(rs: np.ndarray, i: int) -> float:
    """A standard Gumbel draw."""
    u = uniform(rs, i)
    if u < 1e-300:
        u = 1e-300
    return -math.log(-math.log(u))
