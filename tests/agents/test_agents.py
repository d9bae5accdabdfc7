"""Agents: hidden information never changes a decision, bids respect the hook, specs load."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import torch

from blobrl.agents import (
    AgentSpecError,
    HeuristicAgent,
    ModelAgent,
    RandomAgent,
    load,
    observe,
    play_settings,
)
from blobrl.checkpoint import CheckpointStore
from blobrl.game import BID_BASE, from_deal, new_game, parse_card
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network

TINY = NetworkConfig(hidden=16, blocks=1)


def cards(text: str) -> list[int]:
    return [parse_card(w) for w in text.split()]


# Seat 0 bids first (dealer 3). Seats 1 and 2 hold the same suits in both worlds, so every public
# fact (including later voids) agrees, but their exact cards differ.
SEAT0 = cards("AS KS 7H 2D 9C")
SEAT3 = cards("QS 3H 4H 5D 6C")
WORLD_A = [SEAT0, cards("JS 10H 8D 7C 2C"), cards("2S KH 4D 3C 9D"), SEAT3]
WORLD_B = [SEAT0, cards("2S KH 8D 7C 9D"), cards("JS 10H 4D 3C 2C"), SEAT3]


def tiny_evaluator(seed: int = 0) -> TorchEvaluator:
    torch.manual_seed(seed)
    return TorchEvaluator(build_network(TINY))


def agents_under_test():
    return {
        "heuristic": lambda: HeuristicAgent(),
        "random": lambda: RandomAgent(3),
        "model-raw": lambda: ModelAgent(tiny_evaluator(), settings=None),
        "model-search": lambda: ModelAgent(tiny_evaluator(), settings=play_settings(2, 8), seed=4),
    }


@pytest.mark.parametrize("name", list(agents_under_test()))
def test_decisions_ignore_the_cards_hidden_from_the_acting_seat(name):
    make = agents_under_test()[name]
    a = from_deal(WORLD_A, dealer=3, trump=3)
    b = from_deal(WORLD_B, dealer=3, trump=3)
    assert a.hand(1) != b.hand(1)
    # the opening bid, then seat 0's first card after the same bids
    assert make().act(a) == make().act(b)
    for s in (a, b):
        for bid in (2, 1, 1, 0):
            s.apply(BID_BASE + bid)
    assert a.current_player == 0
    assert make().act(a) == make().act(b)


def test_the_view_holds_only_the_acting_seats_cards():
    view = observe(from_deal(WORLD_A, dealer=3, trump=3))
    assert view.seat == 0 and set(view.hand) == set(SEAT0)
    assert not set(view.unseen()) & set(SEAT0)


@pytest.mark.parametrize("seed", range(20))
def test_heuristic_dealer_always_bids_legally(seed):
    state = new_game(4, 5, seed=seed, dealer=3)
    agent = HeuristicAgent()
    while state.current_player != 3:
        state.apply(agent.act(state))
    assert agent.act(state) in state.legal_actions()


def test_hooked_dealer_takes_the_nearest_legal_bid():
    # The dealer holds four sure tricks in spades; the others all bid 0, so 4 is barred.
    hands = [cards("2C 3C 4C 5C"), cards("2D 3D 4D 5D"), cards("2H 3H 4H AD"), cards("AS KS QS JS")]
    state = from_deal(hands, dealer=3, trump=3)
    for bid in (0, 0, 0):
        state.apply(BID_BASE + bid)
    assert BID_BASE + 4 not in state.legal_actions()
    assert HeuristicAgent().act(state) == BID_BASE + 3


def test_heuristic_ducks_with_its_highest_losing_card_once_its_bid_is_made():
    hands = [cards("KH 9H 2H"), cards("AH 3C 4C"), cards("5D 6D 7D"), cards("8S 9S 10S")]
    state = from_deal(hands, dealer=0, trump=None)  # seat 1 leads
    for bid in (1, 0, 0, 0):  # seats 1, 2, 3 then the dealer bids 0
        state.apply(BID_BASE + bid)
    state.apply(parse_card("AH"))
    state.apply(parse_card("5D"))
    state.apply(parse_card("8S"))
    assert state.current_player == 0
    assert HeuristicAgent().act(state) == parse_card("KH")


def test_heuristic_wins_cheaply_when_it_needs_the_trick():
    hands = [cards("AH KH 2H"), cards("QH 3C 4C"), cards("5D 6D 7D"), cards("8S 9S 10S")]
    state = from_deal(hands, dealer=0, trump=None)  # seat 1 leads, seat 0 plays last
    for bid in (1, 1, 0, 2):
        state.apply(BID_BASE + bid)
    state.apply(parse_card("QH"))
    state.apply(parse_card("5D"))
    state.apply(parse_card("8S"))
    assert HeuristicAgent().act(state) == parse_card("KH")


# ---- load(spec) --------------------------------------------------------------------------------


def test_load_named_agents():
    assert isinstance(load("heuristic"), HeuristicAgent)
    assert isinstance(load("random"), RandomAgent)
    assert isinstance(load("random@7"), RandomAgent)


@pytest.mark.parametrize("spec", ["", "heuristics", "random@x", "no/such/file.pt", "a.pt@3y30"])
def test_load_rejects_bad_specs_by_name(spec):
    with pytest.raises(AgentSpecError):
        load(spec)


def test_load_factory_spec(tmp_path, monkeypatch):
    (tmp_path / "my_blob_player.py").write_text(
        textwrap.dedent(
            """
            class First:
                def act(self, state):
                    return state.legal_actions()[0]

            def make():
                return First()

            def broken():
                return 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = load("my_blob_player:make")
    state = new_game(4, 3, seed=0)
    assert agent.act(state) == state.legal_actions()[0]
    with pytest.raises(AgentSpecError, match="no act"):
        load("my_blob_player:broken")
    with pytest.raises(AgentSpecError, match="no callable"):
        load("my_blob_player:missing")
    with pytest.raises(AgentSpecError, match="cannot import"):
        load("no_such_module_here:make")
    sys.modules.pop("my_blob_player", None)


@pytest.fixture
def run_dir(tmp_path):
    """A run directory with a tiny best model, an iteration checkpoint and the run's config."""
    torch.manual_seed(0)
    weights = build_network(TINY).state_dict()
    network = {"arch": "mlp", "hidden": 16, "blocks": 1}
    store = CheckpointStore(tmp_path)
    store.save_best(2, weights, {"elo": 1000.0})
    store.save(
        2, {"learner_state": {"learner": {"model": weights}}, "config": {"network": network}}
    )
    (tmp_path / "config.json").write_text(json.dumps({"network": network}))
    return tmp_path


@pytest.mark.parametrize("name", ["best_model.pt", "iter_000002.pt"])
@pytest.mark.parametrize(
    "suffix, root", [("", "gumbel"), ("@raw", None), ("@1x4", "gumbel"), ("@1x4-puct", "puct")]
)
def test_load_checkpoints_with_and_without_search(run_dir, name, suffix, root):
    agent = load(str(run_dir / "checkpoints" / name) + suffix)
    assert isinstance(agent, ModelAgent)
    assert (agent.settings is None) == (suffix == "@raw")
    if root is not None:
        assert agent.settings.root == root and agent.settings.dirichlet_weight == 0.0
    state = new_game(4, 3, seed=1)
    assert agent.act(state) in state.legal_actions()


def test_load_checkpoint_errors_name_the_problem(run_dir):
    best = run_dir / "checkpoints" / "best_model.pt"
    with pytest.raises(AgentSpecError, match="KxS"):
        load(f"{best}@fast")
    (run_dir / "config.json").write_text(json.dumps({"network": {"hidden": 32, "blocks": 1}}))
    with pytest.raises(AgentSpecError, match="do not fit"):
        load(str(best))
    best.write_bytes(b"damaged")
    with pytest.raises(AgentSpecError, match="checksum"):
        load(str(best))
