"""The trick-count head: its distributions, the values derived from them, and its targets."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from blobrl.data import GameRecord, pack_features
from blobrl.game import MAX_PLAYERS, encode, new_game
from blobrl.game import encoding as enc
from blobrl.nn import NetworkConfig, base, build_network
from blobrl.nn.base import _ILLEGAL_LOGIT, TRICK_CLASSES, trick_log_probs, values_from_tricks
from blobrl.nn.cpu import seat_values_cpu


def random_positions(players: int, cards: int, seed: int):
    """Every decision of one random hand: (state copy, acting seat, features)."""
    rng = np.random.default_rng(seed)
    state = new_game(players, cards, seed=seed)
    out = []
    while not state.is_terminal():
        out.append((state.clone(), state.current_player, encode(state)))
        state.apply(int(rng.choice(state.legal_actions())))
    return out, state


def expected_value(state, rel: int, probs: np.ndarray, scoring: str) -> float:
    """Value of relative seat ``rel`` (seen by the player to act) by the rules, given the
    distribution ``probs`` of the tricks it still takes."""
    n, c = state.num_players, state.num_cards
    seat = (state.current_player + rel) % n
    bid, won = state.bids[seat], state.tricks_won[seat]
    counts = np.arange(TRICK_CLASSES)

    def score(b: int) -> float:
        exact = probs[b - won] if 0 <= b - won < TRICK_CLASSES else 0.0
        if scoring == "blob":
            return exact * (10 + b)
        return won + float(probs @ counts) + 10 * exact

    value = score(bid) if bid is not None else max(score(b) for b in range(c + 1))
    return value / (10 + c)


@pytest.mark.parametrize("scoring", ["blob", "oh_hell"])
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), players=st.integers(3, 8), cards=st.integers(1, 6))
def test_derived_values_follow_the_scoring_rules(scoring, seed, players, cards):
    positions, _ = random_positions(players, cards, seed)
    rng = np.random.default_rng(seed)
    state, _, features = positions[rng.integers(len(positions))]
    left = cards - state.tricks_played
    probs = np.zeros((MAX_PLAYERS, TRICK_CLASSES))
    probs[:, : left + 1] = rng.dirichlet(np.ones(left + 1), size=MAX_PLAYERS)
    log_probs = torch.log(torch.from_numpy(probs).float().clamp(min=1e-30))[None]
    values = values_from_tricks(log_probs, torch.from_numpy(features)[None], scoring)[0]
    for rel in range(players):
        want = expected_value(state, rel, probs[rel], scoring)
        assert values[rel].item() == pytest.approx(want, abs=1e-5)
    assert ((values >= 0) & (values <= 1)).all()


@pytest.mark.parametrize("arch", ["mlp", "transformer"])
def test_initial_trick_counts_are_uniform_over_the_tricks_left(arch):
    config = NetworkConfig(arch=arch, hidden=32, blocks=1, embed=32, layers=1, heads=2)
    model = build_network(config).eval()
    positions, _ = random_positions(5, 7, seed=4)
    features = torch.from_numpy(np.stack([f for _, _, f in positions]))
    with torch.no_grad():
        _, _, log_probs = model.heads(features)
    probs = log_probs.exp()
    for i, (state, _, _) in enumerate(positions):
        left = 7 - state.tricks_played
        assert torch.allclose(probs[i, :, : left + 1], torch.full((8, left + 1), 1 / (left + 1)))
        assert (probs[i, :, left + 1 :] == 0).all()


def assert_kernel_answers_as_torch(logits: torch.Tensor, features: torch.Tensor, scoring: str):
    want_log_probs = trick_log_probs(logits.view(-1, MAX_PLAYERS, TRICK_CLASSES), features)
    want_values = values_from_tricks(want_log_probs, features, scoring)
    values, log_probs = seat_values_cpu(logits, features, scoring, _ILLEGAL_LOGIT)
    torch.testing.assert_close(values, want_values, atol=2e-6, rtol=1e-5)
    possible = want_log_probs > -1e6
    torch.testing.assert_close(log_probs[possible], want_log_probs[possible], atol=1e-5, rtol=1e-5)
    assert (log_probs[~possible] < -1e8).all()


@pytest.mark.parametrize("scoring", ["blob", "oh_hell"])
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    players=st.integers(3, 8),
    cards=st.integers(1, 6),
    scale=st.sampled_from([0.1, 3.0, 30.0]),
)
def test_the_cpu_kernel_gives_the_torch_head_s_answers(scoring, seed, players, cards, scale):
    """Inference on the CPU derives values with a numba kernel; the torch code is the
    definition. Every position of a random hand, random trick logits of several scales."""
    positions, _ = random_positions(players, cards, seed)
    features = torch.from_numpy(np.stack([f for _, _, f in positions]))
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(len(positions), MAX_PLAYERS * TRICK_CLASSES, generator=gen) * scale
    assert_kernel_answers_as_torch(logits, features, scoring)


@pytest.mark.parametrize("rows", [1, 31, 32, 33, 70])
def test_the_cpu_kernel_answers_alike_at_any_batch_size(rows):
    """The kernel works on blocks of rows; a batch that ends inside one, or on its edge."""
    features: list[np.ndarray] = []
    for seed in range(rows):  # a hand has at least one position: rows hands are enough
        features += [f for _, _, f in random_positions(3 + seed % 6, 1 + seed % 6, seed)[0]]
        if len(features) >= rows:
            break
    batch = torch.from_numpy(np.stack(features[:rows]))
    gen = torch.Generator().manual_seed(rows)
    logits = torch.randn(rows, MAX_PLAYERS * TRICK_CLASSES, generator=gen) * 3.0
    for scoring in ("blob", "oh_hell"):
        assert_kernel_answers_as_torch(logits, batch, scoring)


@pytest.mark.parametrize("scoring", ["blob", "oh_hell"])
def test_with_no_trick_count_possible_the_kernel_is_uniform_as_torch_is(scoring):
    """Garbage input (more tricks played than cards): every count masked, so the softmax of
    the filled logits is uniform, in torch and in the kernel alike."""
    positions, _ = random_positions(5, 4, seed=3)
    features = torch.from_numpy(np.stack([f for _, _, f in positions]))
    features[:, enc.OFF_SCALARS] = 2.0  # tricks played: twice the hand
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(len(positions), MAX_PLAYERS * TRICK_CLASSES, generator=gen)
    _, log_probs = seat_values_cpu(logits, features, scoring, _ILLEGAL_LOGIT)
    torch.testing.assert_close(log_probs, torch.full_like(log_probs, -np.log(TRICK_CLASSES)))
    assert_kernel_answers_as_torch(logits, features, scoring)


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the calls of the value kernel (so a test knows which path answered)."""
    calls = []
    kernel = base.seat_values_cpu

    def counted(*args):
        calls.append(args[0].shape[0])
        return kernel(*args)

    monkeypatch.setattr(base, "seat_values_cpu", counted)
    return calls


@pytest.mark.parametrize("arch", ["mlp", "transformer"])
def test_networks_answer_alike_in_inference_and_in_training(arch, kernel_calls):
    torch.manual_seed(5)
    config = NetworkConfig(arch=arch, hidden=32, blocks=1, embed=32, layers=1, heads=2)
    model = build_network(config).eval()
    for name, param in model.named_parameters():  # the last value layer starts at zero
        if "trick_out" in name:
            torch.nn.init.normal_(param, std=1.0)
    positions, _ = random_positions(6, 5, seed=8)
    features = torch.from_numpy(np.stack([f for _, _, f in positions]))
    with torch.inference_mode():
        fast = model.heads(features)
    assert kernel_calls == [len(positions)]
    slow = model.heads(features)  # gradients wanted: the torch head
    assert kernel_calls == [len(positions)]
    assert slow[1].requires_grad
    torch.testing.assert_close(fast[0], slow[0].detach(), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(fast[1], slow[1].detach(), atol=1e-5, rtol=1e-4)
    possible = slow[2] > -1e6
    torch.testing.assert_close(fast[2][possible], slow[2].detach()[possible], atol=1e-4, rtol=1e-4)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), players=st.integers(3, 8), cards=st.integers(1, 6))
def test_trick_targets_are_the_tricks_each_seat_still_takes(seed, players, cards):
    positions, final = random_positions(players, cards, seed)
    bits, cont = pack_features(np.stack([f for _, _, f in positions]))
    t = len(positions)
    record = GameRecord(
        seed=seed, num_players=players, num_cards=cards, weight_version=0,
        determinizations=1, simulations=1, actions=np.array(final.history, np.int16),
        players=np.array([p for _, p, _ in positions], np.int8), feature_bits=bits,
        feature_cont=cont, legal=np.zeros((t, 65), np.bool_), policy=np.zeros((t, 65), np.float16),
        scores=np.array(final.scores(), np.float32),
        tricks=np.array(final.tricks_won, np.int8),
    )  # fmt: skip
    targets = record.trick_targets()
    for i, (state, player, _) in enumerate(positions):
        for rel in range(players):
            seat = (player + rel) % players
            assert targets[i, rel] == final.tricks_won[seat] - state.tricks_won[seat]
        assert (targets[i, players:] == -1).all()


def test_a_record_without_trick_counts_has_no_targets():
    positions, final = random_positions(4, 3, seed=1)
    bits, cont = pack_features(np.stack([f for _, _, f in positions]))
    t = len(positions)
    record = GameRecord(
        seed=1, num_players=4, num_cards=3, weight_version=0, determinizations=1,
        simulations=1, actions=np.array(final.history, np.int16),
        players=np.array([p for _, p, _ in positions], np.int8), feature_bits=bits,
        feature_cont=cont, legal=np.zeros((t, 65), np.bool_), policy=np.zeros((t, 65), np.float16),
        scores=np.array(final.scores(), np.float32),
    )  # fmt: skip
    assert (record.trick_targets() == -1).all()


def test_checkpoints_from_before_the_trick_head_load_as_direct():
    old = build_network(NetworkConfig(hidden=16, blocks=1, value_head="direct"))
    section = {"arch": "mlp", "hidden": 16, "blocks": 1}  # written before value_head existed
    config = NetworkConfig.from_section(section, old.state_dict())
    assert config.value_head == "direct"
    build_network(config).load_state_dict(old.state_dict())
    new = build_network(NetworkConfig(hidden=16, blocks=1))
    assert NetworkConfig.from_section(section, new.state_dict()).value_head == "tricks"
