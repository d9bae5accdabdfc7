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
from torch import nn

from blobrl.nn.cpu import cpu_inference


@njit(cache=True, fastmath=True, nogil=True)
def sparse_affine(x: np.ndarray, weight_t: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """``out[B, H] = x[B, F] @ weight_t[F, H] + bias[H]``, skipping the zeros of ``x``.

    ``x`` must be C-contiguous. Zeros are skipped two floats at a time: a word of two +0.0 is
    all zero bits (a word holding -0.0 is not, and is then looked at float by float)."""
    rows, features = x.shape
    width = weight_t.shape[1]
    pairs = features // 2
    words = x[:, : 2 * pairs].copy().view(np.uint64) if features % 2 else x.view(np.uint64)
    nonzero = np.empty(features, np.int64)
    for i in range(rows):
        count = 0
        for w in range(pairs):
            if words[i, w] != 0:
                for j in range(2 * w, 2 * w + 2):
                    if x[i, j] != 0.0:
                        nonzero[count] = j
                        count += 1
        if features % 2 and x[i, features - 1] != 0.0:
            nonzero[count] = features - 1
            count += 1
        row = out[i]
        row[:] = bias
        for n in range(count):
            j = nonzero[n]
            v = x[i, j]
            w_j = weight_t[j]
            for h in range(width):
                row[h] += v * w_j[h]


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
