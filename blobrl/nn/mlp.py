"""Residual MLP over the flat information state: the default network, cheap on one CPU core."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS
from blobrl.nn.base import BlobNet, init_policy_output
from blobrl.nn.config import NetworkConfig
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
        x = self.blocks(self.stem(features))  # [B, H]
        x = F.relu(self.norm(x))
        logits = self.policy(x)  # [B, 65]
        values, log_probs = self._seat_values(F.relu(self.value_hidden(x)), features)
        return logits, values, log_probs
