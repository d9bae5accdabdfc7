"""Small networks and positions shared by the inference tests (and tests/actors' Ray ones)."""

from __future__ import annotations

import numpy as np
import torch

from blobrl.game import FEATURES, encode, feasible_deals, new_game
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network, state_dict_to_bytes

SMALL = NetworkConfig(hidden=32, blocks=1)
ATOL = 1e-5  # the same rows in a different batch may round differently


def small_net(seed: int):
    torch.manual_seed(seed)
    return build_network(SMALL)


def reference(seed: int) -> TorchEvaluator:
    """A direct evaluator over the same weights as ``small_net(seed)``."""
    return TorchEvaluator(small_net(seed))


def weight_bytes(seed: int) -> bytes:
    """``small_net(seed)``'s weights, as the Coordinator publishes them."""
    return state_dict_to_bytes(small_net(seed).state_dict())


def features(rows: int, seed: int) -> np.ndarray:
    """``float32[rows, FEATURES]`` of random 0/1 features."""
    rng = np.random.default_rng(seed)
    return (rng.random((rows, FEATURES)) < 0.1).astype(np.float32)


def encoded_positions(count: int, seed: int) -> np.ndarray:
    """``count`` positions of random hands at every table size, as the search encodes them."""
    rng = np.random.default_rng(seed)
    deals = feasible_deals()
    rows = []
    while len(rows) < count:
        n, c = deals[int(rng.integers(len(deals)))]
        mode = ("rotation", "turn_up", "none")[int(rng.integers(3))]
        state = new_game(n, c, seed=int(rng.integers(2**32)), trump_mode=mode)
        while not state.is_terminal() and len(rows) < count:
            rows.append(encode(state))
            state.apply(int(rng.choice(state.legal_actions())))
    return np.stack(rows)


def assert_rows_match(got, expected):
    np.testing.assert_allclose(got[0], expected[0], atol=ATOL)
    np.testing.assert_allclose(got[1], expected[1], atol=ATOL)
