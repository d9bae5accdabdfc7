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


def assert_cpu_path_answers_as(net: torch.nn.Module, reference: torch.nn.Module, x) -> None:
    with torch.inference_mode():
        got = net.heads(x)
    with torch.enable_grad():
        expected = reference.heads(x)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b.detach(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("assign", [False, True])
def test_the_cpu_path_answers_with_weights_loaded_after_it_ran(assign):
    net = randomized(NetworkConfig(hidden=32, blocks=2), seed=4)
    other = randomized(NetworkConfig(hidden=32, blocks=2), seed=5)
    x = random_rows(9, seed=4)
    with torch.inference_mode():
        before = net.heads(x)  # the CPU path has read (and kept views of) the old weights
    net.load_state_dict(other.state_dict(), assign=assign)
    assert_cpu_path_answers_as(net, other, x)
    with torch.inference_mode():
        assert not torch.allclose(net.heads(x)[0], before[0])


def test_the_cpu_path_answers_with_weights_changed_in_place_or_replaced():
    net = randomized(NetworkConfig(hidden=32, blocks=2), seed=6)
    x = random_rows(9, seed=6)
    with torch.inference_mode():
        net.heads(x)
    with torch.no_grad():
        net.blocks[1].fc2.weight.mul_(-2.0)  # in place: the same memory
        net.norm.bias.add_(0.5)
    net.policy.weight.data = net.policy.weight.data * 3.0  # other memory, the same Parameter
    net.value_hidden.bias.data = net.value_hidden.bias.data + 0.25
    assert_cpu_path_answers_as(net, net, x)


def test_the_cpu_path_answers_after_the_network_moves():
    net = randomized(NetworkConfig(hidden=32, blocks=1), seed=7)
    x = random_rows(9, seed=7)
    with torch.inference_mode():
        net.heads(x)
    net.double().float()  # new parameter memory throughout
    with torch.no_grad():
        net.blocks[0].fc1.bias.add_(1.0)
    assert_cpu_path_answers_as(net, net, x)
