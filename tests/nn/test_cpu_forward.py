"""The CPU inference path answers as the torch definition; the FLOP count follows the shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS
from blobrl.nn import NetworkConfig, build_network, forward_vs_gemm, matmul_flops_per_row
from blobrl.nn import mlp as mlp_module

CONFIGS = {
    "mlp": NetworkConfig(),
    "mlp_direct_oh_hell": NetworkConfig(value_head="direct", scoring="oh_hell", hidden=48),
    "mlp_no_blocks": NetworkConfig(hidden=32, blocks=0),
    "transformer": NetworkConfig(arch="transformer", embed=32, layers=2, heads=4),
}


def random_rows(rows: int, seed: int) -> torch.Tensor:
    """Mostly-zero inputs with some 0/1 and some real values, as the encoding has."""
    rng = np.random.default_rng(seed)
    x = (rng.random((rows, FEATURES)) < 0.05).astype(np.float32)
    scaled = rng.random((rows, FEATURES)) < 0.01
    x[scaled] = rng.uniform(-1, 1, scaled.sum())
    return torch.from_numpy(x)


def randomized(config: NetworkConfig, seed: int) -> torch.nn.Module:
    """A network with every parameter random (the zeroed value output included), so that
    every output depends on every layer."""
    torch.manual_seed(seed)
    net = build_network(config).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.1)
    return net


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_inference_answers_as_the_torch_definition(name, seed):
    net = randomized(CONFIGS[name], seed)
    x = random_rows(37, seed)
    with torch.enable_grad():  # training mode's arithmetic: dense torch layers throughout
        expected = net.heads(x)
    with torch.inference_mode():
        got = net.heads(x)
    for a, b in zip(got, expected, strict=True):
        if b is None:
            assert a is None
            continue
        torch.testing.assert_close(a, b.detach(), atol=1e-5, rtol=1e-5)


def test_the_mlp_takes_its_cpu_path_in_inference_only(monkeypatch):
    calls = []
    kernel = mlp_module.layer_norm_rows

    def counted(*args):
        calls.append(args[0].shape)
        return kernel(*args)

    monkeypatch.setattr(mlp_module, "layer_norm_rows", counted)
    net = randomized(NetworkConfig(hidden=16, blocks=2), seed=0)
    x = random_rows(5, seed=0)
    net(x)
    assert calls == []
    with torch.inference_mode():
        logits, values = net(x)
    assert calls == [(5, 16)] * 3  # two blocks and the final norm
    assert logits.shape == (5, NUM_ACTIONS) and values.shape == (5, MAX_PLAYERS)


def test_an_empty_batch_has_empty_answers():
    net = randomized(NetworkConfig(hidden=16, blocks=1), seed=1)
    with torch.inference_mode():
        logits, values = net(random_rows(0, seed=1))
    assert logits.shape == (0, NUM_ACTIONS) and values.shape == (0, MAX_PLAYERS)


def test_the_mlp_flop_count_is_its_layer_shapes_with_a_sparse_stem():
    net = build_network(NetworkConfig(hidden=8, blocks=2))
    x = torch.zeros(2, FEATURES)
    x[0, :3] = 1.0
    x[1, :5] = 0.5  # four non-zeros per row on average
    per_row = 2 * (4 * 8 + 2 * 2 * 8 * 8 + 8 * NUM_ACTIONS + 8 * 8 + 8 * MAX_PLAYERS * 13)
    assert matmul_flops_per_row(net, x) == per_row


def test_forward_vs_gemm_is_a_finite_positive_ratio():
    net = build_network(NetworkConfig(hidden=16, blocks=1))
    ratio = forward_vs_gemm(net, random_rows(8, seed=2), rounds=1, seconds=0.01, gemm_size=64)
    assert math.isfinite(ratio) and ratio > 0
