"""Numba kernels for the network's CPU inference, where torch's per-operation cost dominates.

Self-play evaluates a few hundred rows at a time on one core. At that size the trick-count value
head, two dozen small elementwise torch operations on ``[B, 8, 13]`` tensors, cost as much as the
residual blocks of a 128-wide network. :func:`trick_values` does the same arithmetic in a few
vectorized passes per block of rows. :func:`layer_norm_rows` and :func:`add_bias_relu` let the
MLP's matrix products run without a bias (torch's ``addmm`` first copies the bias into the
output, one more pass over it) and fold each bias, ReLU and residual update into the pass that
next reads the rows. Like the sparse first layer they only answer when no gradient is wanted
and everything is float32 on the CPU (:func:`cpu_inference`); training, CUDA and export use
the torch code, which stays the definition (tests hold the two to the same answers).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

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


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose bit pattern is the low 32 bits of the int64 ``bits`` (numpy's
    ``view``, on a scalar; numba does its integer arithmetic in int64)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)), ir.FloatType())

    return types.float32(types.int64), codegen


# exp(x) = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln 2 / 2, ln 2 / 2]. ln 2 is
# split in two (Cody and Waite): n * _LN2_HI is exact for |n| < 2^15, so r keeps its low bits.
_LOG2E = np.float32(1.44269504)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
# exp(r) ~ 1 + r + r^2 P(r) on that interval, P Cephes' minimax quintic (expf.c).
_P0, _P1 = np.float32(1.9875691500e-4), np.float32(1.3981999507e-3)
_P2, _P3 = np.float32(8.3334519073e-3), np.float32(4.1665795894e-2)
_P4, _P5 = np.float32(1.6666665459e-1), np.float32(5.0000001201e-1)
# Below this the answer is 0: 2^n must stay a normal float32 (n >= -126). exp(-87) is 1.6e-38.
EXP_MIN = np.float32(-87.0)


# No fastmath, here or in a function that calls this: reassociation would undo the split of
# ln 2, and a caller's fast-math flags reach this code once it is inlined (compiled first from
# a fastmath trick_values, it was 4 ulp out near exp(-87)).
@njit(cache=True, nogil=True)
def exp_nonpositive(x: np.float32) -> np.float32:
    """``exp(x)`` of a float32 ``x <= 0``: within 1 ulp of the correctly rounded value for
    every float32 in ``[EXP_MIN, 0]`` (all were checked), 0 below ``EXP_MIN``, NaN for NaN.

    ``math.exp`` is a libm call that LLVM does not vectorize (numba has no vector math library
    without Intel's SVML); this is a polynomial and a bit pattern for the power of two, which
    it does. The argument of a softmax, logit minus the maximum, is never positive, so neither
    overflow nor the negative powers that need a subnormal scale arise."""
    clamped = max(x, EXP_MIN)
    n = np.floor(clamped * _LOG2E + np.float32(0.5))
    r = (clamped - n * _LN2_HI) - n * _LN2_LO
    poly = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    scale: np.float32 = _float32_from_bits((int(n) + 127) << 23)  # type: ignore[call-arg]
    return np.float32(0.0) if x < EXP_MIN else (poly * r * r + r + np.float32(1.0)) * scale


_SEATS = MAX_PLAYERS
_CLASSES = MAX_CARDS + 1  # trick counts 0..12
_BLOCK_ROWS = 32  # rows that trick_values works on at once: [13, 256] float32 is 13 KB


@njit(cache=True, fastmath=False, nogil=True)  # no fastmath: see exp_nonpositive
def trick_values(
    trick_logits: np.ndarray,
    features: np.ndarray,
    scoring: int,
    illegal: float,
    log_probs: np.ndarray,
    values: np.ndarray,
) -> None:
    """What ``trick_log_probs`` then ``values_from_tricks`` compute, in float32 as they do.

    ``trick_logits[B, 8, 13]`` and ``features[B, FEATURES]`` in; ``log_probs[B, 8, 13]`` and
    ``values[B, 8]`` out. ``scoring`` is a :data:`SCORING_CODES` value. As in torch, the counts
    above the tricks left get the logit ``illegal`` before the softmax, which is
    ``(logit - max) - log(sum)`` (so their probability is 0); with no count possible (garbage
    input only) every count is masked alike and the softmax is uniform, ``-log 13``.

    The (row, seat) pairs of a block of rows are laid out count-major, ``[13, pairs]``, so that
    every step of the softmax and of the value sums is a long loop over the pairs, which LLVM
    vectorizes (``exp`` by :func:`exp_nonpositive`). Seat-major, each is a loop over 13
    counts, which it leaves scalar: the float64 kernel this replaced, with ``math.exp``, took
    3.5x as long on its own and 1.5x inside a forward pass.
    """
    rows = trick_logits.shape[0]
    logits = trick_logits.reshape(rows * _SEATS, _CLASSES)  # [B * 8, 13], one row per pair
    out = log_probs.reshape(rows * _SEATS, _CLASSES)
    flat_values = values.reshape(rows * _SEATS)
    width = _BLOCK_ROWS * _SEATS
    fill = np.float32(illegal)
    zero, one, ten = np.float32(0.0), np.float32(1.0), np.float32(10.0)
    shifted = np.empty((_CLASSES, width), np.float32)  # [13, P] masked logit - pair maximum
    probs = np.empty((_CLASSES, width), np.float32)  # [13, P] unnormalised, then normalised
    top = np.empty(width, np.float32)  # [P] each pair's largest masked logit
    total = np.empty(width, np.float32)  # [P] sum of exp, then its reciprocal
    log_total = np.empty(width, np.float32)  # [P]
    expected = np.empty(width, np.float32)  # [P] expected further tricks
    best = np.empty(width, np.float32)  # [P] max over t of P(t) * bid_weight[t]
    left = np.empty(width, np.float32)  # [P] tricks left in the hand
    norm = np.empty(width, np.float32)  # [P] 10 + C, the most a seat can score
    won = np.empty(width, np.float32)  # [P] tricks taken so far
    bid = np.empty(width, np.float32)  # [P] the bid, where made
    has_bid = np.empty(width, np.bool_)  # [P]
    # What a seat yet to bid maximises over the counts t: its score for bidding t, which is
    # P(t) (10 + t) under blob, and under oh_hell P(t) (the rest of the score is the same).
    bid_weight = np.empty(_CLASSES, np.float32)
    for t in range(_CLASSES):
        bid_weight[t] = ten + np.float32(t) if scoring == 0 else one
    for start in range(0, rows, _BLOCK_ROWS):
        block = min(_BLOCK_ROWS, rows - start)
        pairs = block * _SEATS
        first = start * _SEATS
        # The block's features first, in a loop of loads alone: they come from L3 or memory
        # (the first layer read them long ago), and here their misses overlap; read in the
        # value loop instead, they made the kernel a quarter slower inside a forward pass.
        for b in range(block):
            f = features[start + b]
            c = zero
            for size in range(MAX_CARDS):
                c += f[enc.OFF_C + size] * np.float32(size + 1)
            tricks_left = c - np.round(f[enc.OFF_SCALARS] * c)
            for r in range(_SEATS):
                j = b * _SEATS + r
                col = enc.OFF_SEATS + enc.SEAT_FEATURES * r
                left[j] = tricks_left
                norm[j] = ten + c
                won[j] = np.round(f[col + enc.SEAT_TRICKS] * c)
                has_bid[j] = f[col + enc.SEAT_HAS_BID] > np.float32(0.5)
                bid[j] = np.round(f[col + enc.SEAT_BID] * c)
        # The transpose: the logits read in order, the scratch written across (faster in a
        # forward pass than the other way round).
        for j in range(pairs):
            for t in range(_CLASSES):
                shifted[t, j] = logits[first + j, t] if t <= left[j] else fill
        top[:pairs] = shifted[0, :pairs]
        for t in range(1, _CLASSES):
            for j in range(pairs):
                top[j] = max(top[j], shifted[t, j])
        total[:pairs] = zero
        for t in range(_CLASSES):
            for j in range(pairs):
                s = shifted[t, j] - top[j]
                shifted[t, j] = s
                p = exp_nonpositive(s)
                probs[t, j] = p
                total[j] += p
        for j in range(pairs):
            log_total[j] = math.log(total[j])
            total[j] = one / total[j]
        for j in range(pairs):
            for t in range(_CLASSES):
                out[first + j, t] = shifted[t, j] - log_total[j]
        expected[:pairs] = zero
        best[:pairs] = zero
        for t in range(_CLASSES):
            for j in range(pairs):
                q = probs[t, j] * total[j]
                probs[t, j] = q
                expected[j] += q * np.float32(t)
                best[j] = max(best[j], q * bid_weight[t])
        for j in range(pairs):
            need = bid[j] - won[j]
            p_exact = probs[int(need), j] if zero <= need < _CLASSES else zero
            if scoring == 0:
                value = p_exact * (ten + bid[j]) if has_bid[j] else best[j]
            else:
                chance = p_exact if has_bid[j] else best[j]
                value = won[j] + expected[j] + ten * chance
            flat_values[first + j] = min(max(value / norm[j], zero), one)


def seat_values_cpu(
    trick_logits: torch.Tensor, features: torch.Tensor, scoring: str, illegal: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values[B, 8], trick_log_probs[B, 8, 13])`` by :func:`trick_values`, from
    ``trick_logits[B, 8 * 13]`` (impossible counts filled with ``illegal`` before the softmax)."""
    rows = trick_logits.shape[0]
    logits = trick_logits.reshape(rows, _SEATS, _CLASSES).contiguous().numpy()
    log_probs = np.empty((rows, _SEATS, _CLASSES), np.float32)
    values = np.empty((rows, _SEATS), np.float32)
    trick_values(
        logits,
        features.contiguous().numpy(),
        SCORING_CODES[scoring],
        illegal,
        log_probs,
        values,
    )
    return torch.from_numpy(values), torch.from_numpy(log_probs)
