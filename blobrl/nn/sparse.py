"""A first layer that reads only the non-zero inputs, for inference on the CPU.

The information state is about 96% zeros (some 40 non-zero entries of 1,162 in a 5x7 hand), so
the dense first layer spends most of its multiply-adds on zeros: it was over a quarter of the
default network's forward pass. :class:`SparseInputLinear` is an ``nn.Linear`` with the same
parameters (so checkpoints and training are unchanged) whose forward pass, when no gradient is
wanted and the input is on the CPU, adds up the weight columns of the non-zero inputs instead.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros
from torch import nn

from blobrl.nn.cpu import cpu_inference

MAGNITUDE = np.uint32(0x7FFFFFFF)  # every bit of a float32 but its sign


@njit(cache=True, fastmath=True, nogil=True)
def sparse_affine(x: np.ndarray, weight_t: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """``out[B, H] = x[B, F] @ weight_t[F, H] + bias[H]``, skipping the zeros of ``x``.

    ``x`` must be C-contiguous. A row's non-zero inputs are listed first: for each block of 64
    inputs a bit mask of those with any bit but the sign set (so +0.0 and -0.0, which add
    nothing, are left out) is built without a branch, and its set bits are visited by their
    trailing-zero counts (a 5x7 position has some 60 non-zeros in 18 blocks, so this is a few
    branches per row where one per input, or per group of 8, mispredicted often). Then the
    weight rows of the listed inputs are added four at a time, so that the output row is read
    and written once per four weight rows (the weight rows come from L2 or L3; the output row
    stays in L1)."""
    rows, features = x.shape
    width = weight_t.shape[1]
    bits = x.view(np.uint32)
    blocks = features // 64
    nonzero = np.empty(features, np.int64)
    values = np.empty(features, np.float32)
    for i in range(rows):
        x_i = x[i]
        b_i = bits[i]
        count = 0
        for g in range(blocks):
            base = 64 * g
            mask = np.uint64(0)
            for k in range(64):
                mask |= np.uint64((b_i[base + k] & MAGNITUDE) != 0) << np.uint64(k)
            while mask:
                j = base + trailing_zeros(mask)  # type: ignore[call-arg]  # a numba intrinsic
                nonzero[count] = j
                values[count] = x_i[j]
                count += 1
                mask &= mask - np.uint64(1)
        for j in range(64 * blocks, features):
            nonzero[count] = j
            values[count] = x_i[j]
            count += (b_i[j] & MAGNITUDE) != 0
        row = out[i]
        row[:] = bias
        n = 0
        while n + 3 < count:
            v0, v1, v2, v3 = values[n], values[n + 1], values[n + 2], values[n + 3]
            w0, w1 = weight_t[nonzero[n]], weight_t[nonzero[n + 1]]
            w2, w3 = weight_t[nonzero[n + 2]], weight_t[nonzero[n + 3]]
            for h in range(width):
                row[h] += (v0 * w0[h] + v1 * w1[h]) + (v2 * w2[h] + v3 * w3[h])
            n += 4
        while n < count:
            v = values[n]
            w_j = weight_t[nonzero[n]]
            for h in range(width):
                row[h] += v * w_j[h]
            n += 1


class SparseInputLinear(nn.Linear):
    """``nn.Linear`` whose CPU inference skips zero inputs (same parameters, same answers up
    to float rounding). Training, CUDA, other dtypes and export (tracing, ONNX) use the dense
    layer."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self._transposed: tuple[tuple[int, int], np.ndarray] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not cpu_inference(x, self.weight) or x.dim() != 2:
            return super().forward(x)
        return self.affine_cpu(x)

    def affine_cpu(self, x: torch.Tensor) -> torch.Tensor:
        """The layer on ``x[B, in]`` by :func:`sparse_affine`, for a caller that has checked
        :func:`cpu_inference` itself."""
        inputs = x.contiguous().numpy()
        out = np.empty((inputs.shape[0], self.out_features), np.float32)
        sparse_affine(inputs, self._weight_t(), self.bias.detach().numpy(), out)
        return torch.from_numpy(out)

    def _weight_t(self) -> np.ndarray:
        """The weight as ``[in, out]`` (one contiguous row per input), refreshed whenever the
        weight changes (a weight load writes into it in place, which bumps its version)."""
        if self.weight.is_inference():  # made in inference mode: no version counter to watch
            return self.weight.detach().t().contiguous().numpy()
        key = (self.weight.data_ptr(), self.weight._version)
        if self._transposed is None or self._transposed[0] != key:
            self._transposed = (key, self.weight.detach().t().contiguous().numpy())
        return self._transposed[1]
