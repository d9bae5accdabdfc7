"""Build a network from its config; count its parameters and FLOPs; time its forward pass."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS, NUM_CARDS
from blobrl.game.encoding import SEAT_FEATURES
from blobrl.nn.base import TRICK_CLASSES, BlobNet
from blobrl.nn.config import NetworkConfig
from blobrl.nn.mlp import ResidualMLPNet
from blobrl.nn.transformer import CARD_INPUTS, GLOBAL_INPUTS, NUM_BIDS, CardTransformerNet


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


def matmul_flops_per_row(model: BlobNet, features: torch.Tensor) -> float:
    """Floating-point operations of ``model``'s matrix products per row of ``features[B, F]``,
    counted from the layer shapes as 2 per multiply-add (so a ``[B, K] x [K, N]`` product is
    ``2 B K N``), averaged over the rows.

    Only the products are counted (not the norms, activations, softmaxes or the trick head's
    arithmetic), and as the CPU inference path computes them: the MLP's sparse first layer
    multiplies and adds one weight row per non-zero input (``2 * nnz * hidden`` per row, not
    ``2 * FEATURES * hidden``). The transformer counts its input projections per token, and per
    layer the q/k/v and output projections, ``QK^T`` and ``AV`` over its 61 tokens and the
    feed-forward.
    """
    config = model.config
    outputs = TRICK_CLASSES if config.value_head == "tricks" else 1
    if isinstance(model, ResidualMLPNet):
        h = config.hidden
        nonzero = float((features != 0).sum()) / max(features.shape[0], 1)
        return 2.0 * (
            nonzero * h  # stem, sparse
            + config.blocks * 2 * h * h  # fc1, fc2
            + h * NUM_ACTIONS  # policy
            + h * h  # value hidden
            + h * MAX_PLAYERS * outputs  # trick-count logits or values
        )
    if isinstance(model, CardTransformerNet):
        d, tokens = config.embed, NUM_CARDS + MAX_PLAYERS + 1
        ff = config.ff_mult * d
        layer = tokens * (4 * d * d + 2 * d * ff) + 2 * tokens * tokens * d
        return 2.0 * (
            NUM_CARDS * CARD_INPUTS * d
            + MAX_PLAYERS * SEAT_FEATURES * d
            + GLOBAL_INPUTS * d
            + config.layers * layer
            + NUM_CARDS * d  # card logits
            + d * NUM_BIDS
            + MAX_PLAYERS * (d * d + d * outputs)  # value hidden and output, per seat token
        )
    raise TypeError(f"no FLOP count for {type(model).__name__}")


def forward_vs_gemm(
    model: BlobNet,
    features: torch.Tensor,
    *,
    rounds: int = 7,
    seconds: float = 0.3,
    gemm_size: int = 2048,
) -> float:
    """The forward pass's FLOP rate over a large fp32 matrix product's, on the same core.

    The forward rate is :func:`matmul_flops_per_row` times the rows of ``features[B, F]``
    evaluated per second (inference mode, eval mode, on the CPU); the reference is
    ``torch.mm`` of two ``gemm_size`` squares (``2 n^3`` FLOPs). Both use torch's current
    thread count (the caller sets it). The two are timed in turn, each for at least ``seconds``
    of CPU time (``time.process_time``, so that time spent descheduled on a shared machine does
    not count), ``rounds`` times; the answer is the median of the rounds' ratios. 1.0 would mean
    the network's matrix products run as fast as a large one and everything else is free.
    """
    model.to("cpu").eval()
    a, b = torch.randn(gemm_size, gemm_size), torch.randn(gemm_size, gemm_size)
    product = torch.empty(gemm_size, gemm_size)
    gemm_flops = 2.0 * gemm_size**3
    forward_flops = matmul_flops_per_row(model, features) * features.shape[0]

    def rate(work: Callable[[], object], flops: float) -> float:
        calls, start = 0, time.process_time()
        while True:
            work()
            calls += 1
            elapsed = time.process_time() - start
            if elapsed >= seconds:
                return calls * flops / elapsed

    ratios = []
    with torch.inference_mode():
        model(features)
        torch.mm(a, b, out=product)
        for _ in range(rounds):
            gemm = rate(lambda: torch.mm(a, b, out=product), gemm_flops)
            ratios.append(rate(lambda: model(features), forward_flops) / gemm)
    return statistics.median(ratios)
