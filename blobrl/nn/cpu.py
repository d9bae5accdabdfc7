"""Numba kernels for the network's CPU inference, where torch's per-operation cost dominates.

Self-play evaluates a few hundred rows at a time on one core. At that size the trick-count value
head, two dozen small elementwise torch operations on ``[B, 8, 13]`` tensors, cost as much as the
residual blocks of a 128-wide network. :func:`trick_values` does the same arithmetic in one pass
per row. :func:`layer_norm_rows` and :func:`add_bias_relu` let the MLP's matrix products run
without a bias (torch's ``addmm`` first copies the bias into the output, one more pass over it)
and fold each bias, ReLU and residual update into the pass that next reads the rows. Like the
sparse first layer they only answer when no gradient is wanted and everything is float32 on the
CPU (:func:`cpu_inference`); training, CUDA and export use the torch code, which stays the
definition (tests hold the two to the same answers).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

from blobrl.game import MAX_PLAYERS
from blobrl.game import encoding as enc
from blobrl.game.core import MAX_CARDS

SCORING_CODES = {"blob": 0, "oh_hell": 1}


def cpu_inference(*tensors: torch.Tensor) -> bool:
    """True when a numba kernel may stand in for torch: no gradient wanted, not tracing or
    exporting, and every tensor a float32 CPU tensor."""
    if torch.is_grad_enabled() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return False
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


@njit(cache=True, fastmath=True, nogil=True)
def layer_norm_rows(
    x: np.ndarray,
    pending: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    eps: float,
    relu: bool,
    out: np.ndarray,
) -> None:
    """``x += pending`` (in place), then ``out = LayerNorm(x)`` (then ReLU when ``relu``).

    ``x[B, H]``, ``out[B, H]``; ``pending[H]`` is a bias still to be added to ``x`` (zeros for
    none), ``weight[H]``, ``bias[H]`` the norm's affine parameters. The variance is the biased
    one of ``nn.LayerNorm``, from the mean in a second pass over the row."""
    rows, width = x.shape
    eps32 = np.float32(eps)
    zero = np.float32(0.0)
    for i in range(rows):
        x_i = x[i]
        total = zero
        for h in range(width):
            v = x_i[h] + pending[h]
            x_i[h] = v
            total += v
        mean = total / np.float32(width)
        squares = zero
        for h in range(width):
            d = x_i[h] - mean
            squares += d * d
        rstd = np.float32(1.0) / np.sqrt(squares / np.float32(width) + eps32)
        o_i = out[i]
        if relu:
            for h in range(width):
                o_i[h] = max((x_i[h] - mean) * rstd * weight[h] + bias[h], zero)
        else:
            for h in range(width):
                o_i[h] = (x_i[h] - mean) * rstd * weight[h] + bias[h]


@njit(cache=True, fastmath=True, nogil=True)
def add_bias_relu(x: np.ndarray, bias: np.ndarray) -> None:
    """``x[B, H] = relu(x + bias[H])`` in place."""
    rows, width = x.shape
    zero = np.float32(0.0)
    for i in range(rows):
        x_i = x[i]
        for h in range(width):
            x_i[h] = max(x_i[h] + bias[h], zero)


@njit(cache=True, fastmath=False, nogil=True)
def trick_values(
    trick_logits: np.ndarray,
    features: np.ndarray,
    scoring: int,
    illegal: float,
    log_probs: np.ndarray,
    values: np.ndarray,
) -> None:
    """What ``trick_log_probs`` then ``values_from_tricks`` compute, one row at a time.

    ``trick_logits[B, 8, T]`` and ``features[B, FEATURES]`` in; ``log_probs[B, 8, T]`` (counts
    above the tricks left get ``illegal - logsumexp``, as the masked softmax gives) and
    ``values[B, 8]`` out. ``scoring`` is a :data:`SCORING_CODES` value.
    """
    rows, seats, classes = trick_logits.shape
    probs = np.zeros(classes, np.float64)
    for i in range(rows):
        c = 0.0
        for size in range(MAX_CARDS):
            c += features[i, enc.OFF_C + size] * (size + 1)
        left = c - np.round(features[i, enc.OFF_SCALARS] * c)
        norm = 10.0 + c
        # Counts above ``left`` are impossible: probability 0. With none possible (garbage
        # input only) every count is masked alike and the softmax is uniform, as in torch.
        last = min(int(left), classes - 1) if left >= 0 else classes - 1
        for r in range(seats):
            if left < 0:
                top = illegal
                for t in range(classes):
                    probs[t] = 1.0
            else:
                top = trick_logits[i, r, 0]
                for t in range(1, last + 1):
                    top = max(top, trick_logits[i, r, t])
                for t in range(last + 1):
                    probs[t] = math.exp(trick_logits[i, r, t] - top)
            total = 0.0
            for t in range(last + 1):
                total += probs[t]
            lse = top + math.log(total)
            scale = 1.0 / total
            best = 0.0
            expected = 0.0
            for t in range(last + 1):
                log_probs[i, r, t] = (illegal if left < 0 else trick_logits[i, r, t]) - lse
                probs[t] *= scale
                expected += probs[t] * t
                best = max(best, probs[t] * (10.0 + t) if scoring == 0 else probs[t])
            for t in range(last + 1, classes):
                log_probs[i, r, t] = illegal - lse
            col = enc.OFF_SEATS + enc.SEAT_FEATURES * r
            won = np.round(features[i, col + enc.SEAT_TRICKS] * c)
            if features[i, col + enc.SEAT_HAS_BID] > 0.5:
                bid = np.round(features[i, col + enc.SEAT_BID] * c)
                need = bid - won
                p_exact = probs[int(need)] if 0 <= need <= last else 0.0
                if scoring == 0:
                    value = p_exact * (10.0 + bid) / norm
                else:
                    value = (won + expected + 10.0 * p_exact) / norm
            elif scoring == 0:
                value = best / norm
            else:
                value = (won + expected + 10.0 * best) / norm
            values[i, r] = min(max(value, 0.0), 1.0)


def seat_values_cpu(
    trick_logits: torch.Tensor, features: torch.Tensor, scoring: str, illegal: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values[B, 8], trick_log_probs[B, 8, 13])`` by :func:`trick_values`, from
    ``trick_logits[B, 8 * 13]`` (impossible counts filled with ``illegal`` before the softmax)."""
    rows = trick_logits.shape[0]
    classes = MAX_CARDS + 1
    logits = trick_logits.reshape(rows, MAX_PLAYERS, classes).contiguous().numpy()
    log_probs = np.empty((rows, MAX_PLAYERS, classes), np.float32)
    values = np.empty((rows, MAX_PLAYERS), np.float32)
    trick_values(
        logits,
        features.contiguous().numpy(),
        SCORING_CODES[scoring],
        illegal,
        log_probs,
        values,
    )
    return torch.from_numpy(values), torch.from_numpy(log_probs)
