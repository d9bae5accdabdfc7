import dataclasses

import numpy as np
import pytest
import torch

from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS, encode, new_game
from blobrl.game.encoding import OFF_HAND
from blobrl.nn import (
    NetworkConfig,
    TorchEvaluator,
    build_network,
    bytes_to_state_dict,
    forward_evals_per_s,
    masked_logits,
    param_count,
    state_dict_to_bytes,
)

# Small transformer so the suite stays fast; the default size is checked for its count only.
CONFIGS = {
    "mlp": NetworkConfig(),
    "transformer": NetworkConfig(arch="transformer", embed=32, layers=2, heads=4),
}


def real_features(count: int, *, seed: int = 0) -> np.ndarray:
    """``float32[count, FEATURES]`` from random positions of random 5-player, 7-card hands."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        state = new_game(5, 7, seed=seed * 1000 + i)
        for _ in range(rng.integers(0, 20)):
            if state.is_terminal():
                break
            state.apply(int(rng.choice(state.legal_actions())))
        if state.is_terminal():
            state = new_game(5, 7, seed=seed * 1000 + i)
        rows.append(encode(state))
    return np.stack(rows)


@pytest.fixture(params=sorted(CONFIGS))
def arch(request) -> str:
    return request.param


@pytest.mark.parametrize("batch", [1, 64])
def test_outputs_have_policy_and_seat_value_shapes(arch, batch):
    torch.manual_seed(0)
    model = build_network(CONFIGS[arch]).eval()
    features = torch.from_numpy(real_features(batch))
    with torch.no_grad():
        logits, values = model(features)
    assert logits.shape == (batch, NUM_ACTIONS)
    assert values.shape == (batch, MAX_PLAYERS)
    assert logits.dtype == values.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_values_stay_in_unit_interval_after_perturbing_weights(arch):
    torch.manual_seed(1)
    model = build_network(CONFIGS[arch]).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
        _, values = model(torch.from_numpy(real_features(32)) * 10)
    assert ((values >= 0) & (values <= 1)).all()


def test_initial_values_of_a_direct_value_head_are_near_one_half(arch):
    torch.manual_seed(2)
    model = build_network(dataclasses.replace(CONFIGS[arch], value_head="direct")).eval()
    with torch.no_grad():
        _, values = model(torch.from_numpy(real_features(16)))
    assert torch.allclose(values, torch.full_like(values, 0.5), atol=0.02)


def test_masked_logits_give_illegal_actions_zero_probability():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(16, NUM_ACTIONS, generator=gen) * 30
    legal = torch.rand(16, NUM_ACTIONS, generator=gen) < 0.3
    legal[:, 0] = True
    probs = torch.softmax(masked_logits(logits, legal), dim=1)
    assert (probs[~legal] == 0).all()
    assert torch.allclose(probs.sum(dim=1), torch.ones(16))
    log_probs = torch.log_softmax(masked_logits(logits, legal), dim=1)
    assert torch.isfinite((probs * log_probs).sum(dim=1)).all()


def test_masked_logits_stay_finite_in_half_precision():
    logits = torch.zeros(2, NUM_ACTIONS, dtype=torch.float16)
    legal = torch.zeros(2, NUM_ACTIONS, dtype=torch.bool)
    legal[:, 3] = True
    out = masked_logits(logits, legal)
    assert torch.isfinite(out).all()
    assert (torch.softmax(out.float(), dim=1)[:, 3] == 1).all()


def test_transformer_reads_which_cards_are_in_hand():
    torch.manual_seed(4)
    model = build_network(CONFIGS["transformer"]).eval()
    base = encode(new_game(5, 7, seed=11))  # bidding: nothing played yet
    held = np.flatnonzero(base[OFF_HAND : OFF_HAND + 52])
    out_card = int(held[0])
    in_card = int(np.flatnonzero(base[OFF_HAND : OFF_HAND + 52] == 0)[0])
    swapped = base.copy()  # same number of cards, one exchanged for another
    swapped[OFF_HAND + out_card] = 0.0
    swapped[OFF_HAND + in_card] = 1.0
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(np.stack([base, swapped])))
    assert not torch.allclose(logits[0], logits[1], atol=1e-6)
    # The logits of the two exchanged cards are the ones that move most.
    moved = (logits[0, :52] - logits[1, :52]).abs()
    assert set(torch.topk(moved, 2).indices.tolist()) == {out_card, in_card}


def test_evaluator_maps_float32_numpy_to_float32_numpy(arch):
    torch.manual_seed(5)
    evaluator = TorchEvaluator(build_network(CONFIGS[arch]), version=7)
    features = real_features(8)
    logits, values = evaluator(features)
    assert isinstance(logits, np.ndarray) and isinstance(values, np.ndarray)
    assert logits.dtype == values.dtype == np.float32
    assert logits.shape == (8, NUM_ACTIONS) and values.shape == (8, MAX_PLAYERS)
    assert evaluator.version == 7
    # Read-only input (as from Ray's object store) and an empty batch both work.
    features.flags.writeable = False
    again, _ = evaluator(features)
    np.testing.assert_array_equal(again, logits)
    empty_logits, empty_values = evaluator(np.zeros((0, FEATURES), np.float32))
    assert empty_logits.shape == (0, NUM_ACTIONS) and empty_values.shape == (0, MAX_PLAYERS)


def test_evaluator_rejects_wrong_width():
    evaluator = TorchEvaluator(build_network())
    with pytest.raises(ValueError, match="features must be"):
        evaluator(np.zeros((2, FEATURES - 1), np.float32))


def test_weights_bytes_round_trip_gives_identical_outputs(arch):
    torch.manual_seed(6)
    source = TorchEvaluator(build_network(CONFIGS[arch]))
    with torch.no_grad():
        for p in source.model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    data = state_dict_to_bytes(source.model.state_dict())
    assert isinstance(data, bytes)
    torch.manual_seed(7)
    target = TorchEvaluator(build_network(CONFIGS[arch]))
    target.set_weights(bytes_to_state_dict(data), version=3)
    features = real_features(8)
    for ours, theirs in zip(source(features), target(features), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert target.version == 3


def test_param_counts_are_reported_for_default_sizes():
    mlp = param_count(build_network(NetworkConfig()))
    transformer = param_count(build_network(NetworkConfig(arch="transformer")))
    assert 500_000 < mlp < 2_000_000
    assert 3_000_000 < transformer < 8_000_000


def test_forward_evals_per_s_is_positive():
    rate = forward_evals_per_s(build_network(), batch_size=32, seconds=0.05, warmup=1)
    assert rate > 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"arch": "cnn"}, "arch"),
        ({"hidden": 0}, "hidden"),
        ({"blocks": 2.5}, "blocks"),
        ({"embed": 30, "heads": 8}, "divide"),
        ({"dropout": 1.0}, "dropout"),
        ({"layers": True}, "layers"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        NetworkConfig(**fields)
