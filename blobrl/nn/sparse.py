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


@njit(cache=True, fastmath=True, nogil=True)
def sparse_affine(x: np.ndarray, weight_t: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """``out[B, H] = x[B, F] @ weight_t[F, H] + bias[H]``, skipping the zeros of ``x``."""
    rows, features = x.shape
    width = weight_t.shape[1]
    for i in range(rows):
        for h in range(width):
            out[i, h] = bias[h]
        for j in range(features):
            v = x[i, j]
            if v != 0.0:
                for h in range(width):
                    out[i, h] += v * weight_t[j, h]


class SparseInputLinear(nn.Linear):
    """``nn.Linear`` whose CPU inference skips zero inputs (same parameters, same answers up
    to float rounding). Training, CUDA, other dtypes and export (tracing, ONNX) use the dense
    layer."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self._transposed: tuple[tuple[int, int], np.ndarray] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            torch.is_grad_enabled()
            or torch.jit.is_tracing()
            or torch.onnx.is_in_onnx_export()
            or x.device.type != "cpu"
            or x.dtype != torch.float32
            or self.weight.dtype != torch.float32
            or x.dim() != 2
        ):
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
