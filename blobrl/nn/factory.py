"""Build a network from its config; count its parameters; time its forward pass."""

from __future__ import annotations

import time

import torch
from torch import nn

from blobrl.game import FEATURES
from blobrl.nn.base import BlobNet
from blobrl.nn.config import NetworkConfig
from blobrl.nn.mlp import ResidualMLPNet
from blobrl.nn.transformer import CardTransformerNet


def build_network(config: NetworkConfig | None = None) -> BlobNet:
    """A freshly initialised network for ``config`` (default: ``NetworkConfig()``), on the CPU."""
    config = NetworkConfig() if config is None else config
    if config.arch == "mlp":
        return ResidualMLPNet(config)
    if config.arch == "transformer":
        return CardTransformerNet(config)
    raise ValueError(f"unknown network arch {config.arch!r}")


def param_count(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def forward_evals_per_s(
    model: nn.Module,
    *,
    batch_size: int = 256,
    seconds: float = 1.0,
    device: str | torch.device = "cpu",
    warmup: int = 3,
    seed: int = 0,
) -> float:
    """Positions evaluated per second by the bare ``model`` in a loop at ``batch_size``.

    Inputs are random 0/1 vectors of the real width (the cost does not depend on the values).
    Runs for at least ``seconds`` of wall time after ``warmup`` untimed calls, in inference mode
    with the model in eval mode; it uses however many threads torch is set to (the caller sets
    ``torch.set_num_threads``). The model is left on ``device``.
    """
    device = torch.device(device)
    model.to(device).eval()
    gen = torch.Generator().manual_seed(seed)
    features = (torch.rand(batch_size, FEATURES, generator=gen) < 0.05).float().to(device)
    cuda = device.type == "cuda"
    with (
        torch.inference_mode(),
        torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda),
    ):
        for _ in range(warmup):
            model(features)
        if cuda:
            torch.cuda.synchronize(device)
        calls = 0
        start = time.perf_counter()
        while True:
            model(features)
            calls += 1
            if cuda:
                torch.cuda.synchronize(device)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
    return calls * batch_size / elapsed
