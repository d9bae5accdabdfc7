"""The sparse first layer: the same answers as the dense one, on fresh and reloaded weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blobrl.game import FEATURES
from blobrl.nn import NetworkConfig, build_network, sparse
from blobrl.nn.sparse import SparseInputLinear


def sparse_rows(rows: int, density: float, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = (rng.random((rows, FEATURES)) < density) * rng.uniform(-2, 2, (rows, FEATURES))
    return torch.from_numpy(x.astype(np.float32))


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the sparse kernel's calls (so a test knows which path answered)."""
    calls = []
    kernel = sparse.sparse_affine

    def counted(*args):
        calls.append(args[0].shape)
        return kernel(*args)

    monkeypatch.setattr(sparse, "sparse_affine", counted)
    return calls


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("density", [0.0, 0.04, 0.5, 1.0])
def test_the_sparse_path_answers_as_the_dense_layer(seed, density, kernel_calls):
    torch.manual_seed(seed)
    layer = SparseInputLinear(FEATURES, 48)
    x = sparse_rows(17, density, seed)
    dense = torch.nn.functional.linear(x, layer.weight, layer.bias)
    with torch.inference_mode():
        got = layer(x)
    assert kernel_calls == [(17, FEATURES)]
    torch.testing.assert_close(got, dense.detach(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("width", [1, 7, 10])
def test_inputs_of_odd_and_tiny_widths(width, kernel_calls):
    torch.manual_seed(width)
    layer = SparseInputLinear(width, 5)
    rng = np.random.default_rng(width)
    x = (rng.random((9, width)) < 0.5) * rng.uniform(-2, 2, (9, width))
    x[0, -1] = 1.0  # the last input (the odd one out of the pairs) set
    x[1] = -0.0
    x = torch.from_numpy(x.astype(np.float32))
    with torch.inference_mode():
        got = layer(x)
    assert kernel_calls == [(9, width)]
    dense = torch.nn.functional.linear(x, layer.weight, layer.bias)
    torch.testing.assert_close(got, dense.detach())


def test_a_weight_load_is_seen_by_the_next_forward_pass():
    layer = SparseInputLinear(FEATURES, 16)
    x = sparse_rows(4, 0.05, seed=0)
    with torch.inference_mode():
        before = layer(x)
    other = SparseInputLinear(FEATURES, 16)
    layer.load_state_dict(other.state_dict())  # in place: same storage, new values
    with torch.inference_mode():
        after = layer(x)
    expected = torch.nn.functional.linear(x, other.weight, other.bias).detach()
    torch.testing.assert_close(after, expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(before, after)


def test_training_uses_the_dense_layer_and_gets_gradients(kernel_calls):
    layer = SparseInputLinear(FEATURES, 8)
    x = sparse_rows(3, 0.05, seed=1)
    layer(x).sum().backward()
    assert kernel_calls == []
    assert layer.weight.grad is not None
    # d(sum)/dW[h, j] is the column sum of x for every output h.
    torch.testing.assert_close(layer.weight.grad[0], x.sum(0))


def test_the_default_network_answers_alike_with_and_without_the_sparse_stem():
    torch.manual_seed(3)
    net = build_network(NetworkConfig(hidden=64, blocks=1)).eval()
    x = sparse_rows(32, 0.04, seed=3)
    with torch.no_grad():  # no inference mode: still the sparse path (no grad wanted)
        sparse = net(x)
    with torch.enable_grad():
        dense = net(x)
    for a, b in zip(sparse, dense, strict=True):
        torch.testing.assert_close(a, b.detach(), atol=1e-4, rtol=1e-4)


def test_a_network_built_in_inference_mode_answers_alike():
    torch.manual_seed(4)
    reference = build_network(NetworkConfig(hidden=32, blocks=1)).eval()
    x = sparse_rows(8, 0.04, seed=4)
    with torch.inference_mode():
        net = build_network(NetworkConfig(hidden=32, blocks=1)).eval()
        net.load_state_dict(reference.state_dict())
        got = net(x)
    with torch.enable_grad():
        expected = reference(x)  # the dense path
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b.detach(), atol=1e-4, rtol=1e-4)


def test_non_zeros_at_the_edges_of_the_64_input_blocks_and_negative_zeros(kernel_calls):
    torch.manual_seed(5)
    layer = SparseInputLinear(FEATURES, 24)
    x = torch.zeros(6, FEATURES)
    edges = [0, 31, 32, 63, 64, 127, 128, 64 * (FEATURES // 64) - 1, FEATURES - 1]
    x[0, edges] = torch.linspace(-1.5, 2.0, len(edges))
    x[1, FEATURES - 10 :] = 0.75  # only the tail past the last whole block
    x[2] = -0.0
    x[3, ::2] = -0.0
    x[3, 63] = 1e-30  # tiny, but not zero
    x[4] = 1.0  # every input
    x[5, ::64] = -1.0
    with torch.inference_mode():
        got = layer(x)
    assert kernel_calls == [(6, FEATURES)]
    dense = torch.nn.functional.linear(x, layer.weight, layer.bias)
    torch.testing.assert_close(got, dense.detach(), atol=1e-5, rtol=1e-5)


def test_every_count_of_non_zeros_in_a_row(kernel_calls):
    """Row i has i non-zeros: every split of them into the kernel's groups of four weight rows
    and single ones."""
    torch.manual_seed(6)
    layer = SparseInputLinear(FEATURES, 24)
    rng = np.random.default_rng(6)
    x = torch.zeros(21, FEATURES)
    for i in range(21):
        x[i, rng.choice(FEATURES, size=i, replace=False)] = torch.from_numpy(
            rng.uniform(-2, 2, i).astype(np.float32)
        )
    with torch.inference_mode():
        got = layer(x)
    assert kernel_calls == [(21, FEATURES)]
    dense = torch.nn.functional.linear(x, layer.weight, layer.bias)
    torch.testing.assert_close(got, dense.detach(), atol=1e-5, rtol=1e-5)
