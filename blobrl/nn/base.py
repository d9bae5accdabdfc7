"""What every blobrl network is: information state in, policy logits and seat values out."""

from __future__ import annotations

import torch
from torch import nn

from blobrl.game import MAX_PLAYERS, NUM_ACTIONS
from blobrl.nn.config import NetworkConfig

# Large enough that softmax gives exactly zero, small enough that ``0 * fill`` stays finite
# (``-inf`` would turn an entropy or a cross-entropy term into NaN).
_ILLEGAL_LOGIT = -1e9


class BlobNet(nn.Module):
    """Policy-value network over the information-state vector of :mod:`blobrl.game.encoding`.

    ``forward(features)`` takes ``float32[B, FEATURES]`` and returns

    * ``policy_logits``: ``[B, NUM_ACTIONS]`` (65: cards 0..51, then bids 0..12), unmasked;
    * ``values``: ``[B, MAX_PLAYERS]`` in [0, 1], one per relative seat (0 = the acting player),
      the expected final score of that seat normalized to [0, 1]. Entries for seats that do not
      exist at this table size are meaningless and must be ignored by the caller.
    """

    num_actions = NUM_ACTIONS
    num_seats = MAX_PLAYERS

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


def masked_logits(logits: torch.Tensor, legal_mask: torch.Tensor) -> torch.Tensor:
    """``logits[B, A]`` with every entry where ``legal_mask[B, A]`` (bool) is False set to a large
    finite negative, so that a softmax gives illegal actions probability exactly 0."""
    fill = max(_ILLEGAL_LOGIT, torch.finfo(logits.dtype).min)
    return logits.masked_fill(~legal_mask, fill)


def init_value_output(layer: nn.Linear) -> None:
    """Zero the last value layer so that every initial value is sigmoid(0) = 0.5: the search
    starts from "no opinion" instead of random, confident values."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)


def init_policy_output(layer: nn.Linear) -> None:
    """Small last policy layer: near-uniform initial priors over the legal actions."""
    nn.init.normal_(layer.weight, std=0.01)
    nn.init.zeros_(layer.bias)
