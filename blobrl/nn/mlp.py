"""Residual MLP over the flat information state: the default network, cheap on one CPU core."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

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
        self._cpu_params: list[nn.Parameter] = []
        self._cpu_cache: _CpuViews | None = None
        self._forget_cpu_views()
        self.register_load_state_dict_post_hook(self._forget_cpu_views)

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
        The parameters are read through :meth:`_cpu_views` (at 384 rows, making them afresh
        each pass was some 3% of it).
        """
        views = self._cpu_views()
        rows, width = features.shape[0], self.config.hidden
        x = self.stem.affine_cpu(features)  # [B, H], a fresh tensor of our own
        x_np = x.numpy()
        normed = torch.empty(rows, width, dtype=torch.float32)  # [B, H] LayerNorm output
        hidden = torch.empty(rows, width, dtype=torch.float32)  # [B, H] ReLU(W1 normed + b1)
        normed_np, hidden_np = normed.numpy(), hidden.numpy()
        pending = views.no_bias  # a bias still to be added to x
        for block in views.blocks:
            layer_norm_rows(x_np, pending, *block.norm, False, normed_np)
            torch.mm(normed, block.fc1_weight_t, out=hidden)
            add_bias_relu(hidden_np, block.fc1_bias)
            x.addmm_(hidden, block.fc2_weight_t)
            pending = block.fc2_bias
        layer_norm_rows(x_np, pending, *views.norm, True, normed_np)
        logits = torch.addmm(views.policy_bias, normed, views.policy_weight_t)  # [B, 65]
        torch.mm(normed, views.value_weight_t, out=hidden)
        add_bias_relu(hidden_np, views.value_bias)
        values, log_probs = self._seat_values(hidden, features)
        return logits, values, log_probs

    def _cpu_views(self) -> _CpuViews:
        """The parameters as :meth:`_heads_cpu` reads them, views that share their memory (so
        a weight load, which writes into them in place, shows through), made again when any
        parameter moves to other memory (``.to()``, ``param.data = ...``) or a state dict is
        loaded (which may replace the parameters themselves: ``assign=True``)."""
        key = tuple(p.data_ptr() for p in self._cpu_params)
        if self._cpu_cache is None or self._cpu_cache.key != key:
            self._cpu_cache = _CpuViews.of(self, key)
        return self._cpu_cache

    def _forget_cpu_views(self, *_args: object) -> None:
        self._cpu_params = list(self.parameters())
        self._cpu_cache = None

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> Self:
        """Every ``.to()``, ``.float()``, ``.cpu()`` goes through here; it may replace the
        parameters, so the CPU views are made again."""
        module = super()._apply(fn, recurse)
        self._forget_cpu_views()
        return module


@dataclass(frozen=True)
class _BlockViews:
    norm: tuple[np.ndarray, np.ndarray, float]  # LayerNorm weight [H], bias [H], eps
    fc1_weight_t: torch.Tensor  # [H, H], W1 transposed (a view)
    fc1_bias: np.ndarray  # [H]
    fc2_weight_t: torch.Tensor  # [H, H]
    fc2_bias: np.ndarray  # [H]


@dataclass(frozen=True)
class _CpuViews:
    """A :class:`ResidualMLPNet`'s parameters as its CPU path reads them (views, no copies)."""

    key: tuple[int, ...]  # the parameters' data pointers when these were made
    blocks: tuple[_BlockViews, ...]
    norm: tuple[np.ndarray, np.ndarray, float]  # the final LayerNorm's
    policy_weight_t: torch.Tensor  # [H, 65]
    policy_bias: torch.Tensor  # [65]
    value_weight_t: torch.Tensor  # [H, H], the value head's hidden layer
    value_bias: np.ndarray  # [H]
    no_bias: np.ndarray  # [H] zeros: nothing pending before the first block

    @staticmethod
    def of(net: ResidualMLPNet, key: tuple[int, ...]) -> _CpuViews:
        blocks = []
        for block in net.blocks:
            assert isinstance(block, _ResidualBlock)
            blocks.append(
                _BlockViews(
                    _norm_views(block.norm),
                    block.fc1.weight.detach().t(),
                    _np(block.fc1.bias),
                    block.fc2.weight.detach().t(),
                    _np(block.fc2.bias),
                )
            )
        return _CpuViews(
            key,
            tuple(blocks),
            _norm_views(net.norm),
            net.policy.weight.detach().t(),
            net.policy.bias.detach(),
            net.value_hidden.weight.detach().t(),
            _np(net.value_hidden.bias),
            np.zeros(net.config.hidden, np.float32),
        )


def _np(t: torch.Tensor) -> np.ndarray:
    """A parameter's values as numpy (shared memory, no copy)."""
    return t.detach().numpy()


def _norm_views(norm: nn.LayerNorm) -> tuple[np.ndarray, np.ndarray, float]:
    return _np(norm.weight), _np(norm.bias), norm.eps
