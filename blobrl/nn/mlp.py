"""Residual MLP over the flat information state: the default network, cheap on one CPU core."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS
from blobrl.nn.base import BlobNet, init_policy_output
from blobrl.nn.config import NetworkConfig
from blobrl.nn.cpu import add_bias_relu, cpu_inference, layer_norm_rows
from blobrl.nn.sparse import SparseInputLinear


class _ResidualBlock(nn.Module):
    """Pre-norm residual block: ``x + W2 relu(W1 LayerNorm(x))``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(F.relu(self.fc1(self.norm(x))))


class ResidualMLPNet(BlobNet):
    """``features[B, FEATURES]`` -> stem -> ``blocks`` residual blocks -> LayerNorm -> heads.

    The policy head is one linear layer to 65 logits; the value head is a hidden layer and a
    linear layer, to 8 x 13 trick-count logits (``value_head: tricks``) or to 8 seat values
    through a sigmoid (``direct``).
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        width = config.hidden
        self.stem = SparseInputLinear(FEATURES, width)  # the input is mostly zeros
        self.blocks = nn.Sequential(*(_ResidualBlock(width) for _ in range(config.blocks)))
        self.norm = nn.LayerNorm(width)
        self.policy = nn.Linear(width, NUM_ACTIONS)
        self.value_hidden = nn.Linear(width, width)
        init_policy_output(self.policy)
        self._build_value_output(width, MAX_PLAYERS)

    def heads(
        self, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if features.dim() == 2 and cpu_inference(features, self.stem.weight):
            return self._heads_cpu(features)
        x = self.blocks(self.stem(features))  # [B, H]
        x = F.relu(self.norm(x))
        logits = self.policy(x)  # [B, 65]
        values, log_probs = self._seat_values(F.relu(self.value_hidden(x)), features)
        return logits, values, log_probs

    def _heads_cpu(
        self, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """:meth:`heads` for CPU inference, the same arithmetic in fewer passes over memory.

        The residual stream ``x[B, H]`` is updated in place: ``x += relu(W1 LN(x) + b1) W2^T``
        is one ``addmm_`` (no copy of ``x``, no sum tensor), and each matrix product that has a
        kernel after it runs without its bias, which that kernel adds: ``b1`` with the ReLU,
        ``b2`` with the next LayerNorm (:func:`layer_norm_rows`), the final norm with its ReLU.
        """
        rows, width = features.shape[0], self.config.hidden
        x = self.stem(features)  # [B, H], a fresh tensor of our own
        x_np = x.numpy()
        normed = torch.empty(rows, width, dtype=torch.float32)  # [B, H] LayerNorm output
        hidden = torch.empty(rows, width, dtype=torch.float32)  # [B, H] ReLU(W1 normed + b1)
        normed_np, hidden_np = normed.numpy(), hidden.numpy()
        pending = np.zeros(width, np.float32)  # a bias still to be added to x
        for block in self.blocks:
            assert isinstance(block, _ResidualBlock)
            _norm(block.norm, x_np, pending, relu=False, out=normed_np)
            torch.mm(normed, block.fc1.weight.t(), out=hidden)
            add_bias_relu(hidden_np, _np(block.fc1.bias))
            x.addmm_(hidden, block.fc2.weight.t())
            pending = _np(block.fc2.bias)
        _norm(self.norm, x_np, pending, relu=True, out=normed_np)
        logits = torch.addmm(self.policy.bias, normed, self.policy.weight.t())  # [B, 65]
        torch.mm(normed, self.value_hidden.weight.t(), out=hidden)
        add_bias_relu(hidden_np, _np(self.value_hidden.bias))
        values, log_probs = self._seat_values(hidden, features)
        return logits, values, log_probs


def _np(t: torch.Tensor) -> np.ndarray:
    """A parameter's values as numpy (shared memory, no copy)."""
    return t.detach().numpy()


def _norm(
    norm: nn.LayerNorm, x: np.ndarray, pending: np.ndarray, *, relu: bool, out: np.ndarray
) -> None:
    layer_norm_rows(x, pending, _np(norm.weight), _np(norm.bias), norm.eps, relu, out)
