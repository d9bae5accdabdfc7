"""The benchmarks behind ``python -m blobrl.bench``: each returns a dict of named numbers.

Single-core numbers are measured with the process pinned to one CPU (where the OS allows it),
one torch thread, and numba's kernels (which are single-threaded). Every suite warms up first so
that compilation and caches are not timed. ``quick`` shrinks the work for a smoke run; its
numbers are noisier.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from blobrl.bench import openspiel
from blobrl.bench.actors import actors
from blobrl.bench.gamelog import gamelog
from blobrl.bench.inference import inference
from blobrl.bench.remote import remote
from blobrl.bench.window import timed
from blobrl.game import core as k
from blobrl.game import new_game
from blobrl.game import rng as _rng
from blobrl.game.determinize import determinize_into
from blobrl.mcts import BatchedSearch, SearchSettings, uniform_evaluator
from blobrl.selfplay import GameSpec, SelfPlayWorker

PLAYERS, CARDS = 5, 7
LAPTOP = Path(__file__).resolve().parents[2] / "configs" / "laptop.yaml"


@contextmanager
def one_core():
    """Pin this process to a single CPU and torch to one thread for the duration."""
    import torch

    threads = torch.get_num_threads()
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        if affinity:
            os.sched_setaffinity(0, {min(affinity)})
        torch.set_num_threads(1)
        yield
    finally:
        torch.set_num_threads(threads)
        if affinity:
            os.sched_setaffinity(0, affinity)


def _rate(work: Callable[[], int], *, min_seconds: float) -> float:
    """Units of work per second, repeating ``work`` (which returns units done) for a while."""
    done, elapsed = timed(work, min_seconds)
    return done / elapsed


def engine(quick: bool) -> dict[str, float | str | None]:
    """Random playouts of whole 5x7 hands.

    ``engine_games_per_s`` is the compiled core that search and self-play run on (deal, legal
    moves, apply, score, all inside numba). ``engine_api_games_per_s`` drives the public Python
    API one move at a time (``legal_actions``/``apply`` per move), as an agent or a tool would:
    one crossing into numba per move (``apply`` returns the next legal set, which
    ``legal_actions`` unpacks in Python), plus the numpy draws of the deal in ``new_game``.
    ``engine_api_vs_openspiel`` is its rate over OpenSpiel's ``oh_hell`` driven the same way, in
    alternating windows of this run (:mod:`blobrl.bench.openspiel`; None without OpenSpiel).
    """
    rs = _rng.seed_streams([1])
    k.playout_games(PLAYERS, CARDS, 10, rs)
    batch = 2_000 if quick else 20_000
    core = _rate(lambda: (k.playout_games(PLAYERS, CARDS, batch, rs), batch)[1], min_seconds=1.0)
    api = openspiel.compare(
        PLAYERS, CARDS, rounds=2 if quick else 4, seconds=0.25 if quick else 1.0
    )
    return {"engine_games_per_s": core, **api}


def determinization(quick: bool) -> dict[str, float]:
    """Worlds sampled per second, from positions a few tricks into 5x7 hands."""
    rng = np.random.default_rng(0)
    states = []
    for seed in range(64):
        state = new_game(PLAYERS, CARDS, seed=seed)
        for _ in range(PLAYERS + 3 * PLAYERS):
            legal = state.legal_actions()
            state.apply(legal[rng.integers(len(legal))])
        states.append(state.vector)
    out = np.empty(k.STATE_SIZE, np.int64)
    rs = _rng.seed_streams([3])

    def batch() -> int:
        for vec in states:
            determinize_into(vec, int(vec[k.F_PLAYER]), rs, 0, out)
        return len(states)

    batch()
    return {"determinizations_per_s": _rate(batch, min_seconds=0.3 if quick else 1.0)}


def mcts(quick: bool) -> dict[str, float]:
    """Simulations per second at 3 worlds x 30 simulations over a batch of 5x7 games, with a
    uniform stub evaluator (so the number is the search alone, leaf encoding included)."""
    games = 64
    settings = SearchSettings(determinizations=3, simulations=30)
    engine = BatchedSearch(uniform_evaluator, max_games=games, settings=settings)
    rng = np.random.default_rng(0)
    states = []
    for seed in range(games):
        state = new_game(PLAYERS, CARDS, seed=seed)
        for _ in range(int(rng.integers(0, 20))):
            legal = state.legal_actions()
            state.apply(legal[rng.integers(len(legal))])
        states.append(state.vector)
    batch = np.stack(states)
    active = np.ones(games, np.bool_)
    rs = _rng.seed_streams(np.arange(games))
    engine.run(batch, active, rs)
    per_call = games * settings.determinizations * settings.simulations
    rate = _rate(
        lambda: (engine.run(batch, active, rs), per_call)[1], min_seconds=0.5 if quick else 2.0
    )
    return {"mcts_sims_per_s": rate}


def selfplay(quick: bool, *, network=None) -> dict[str, float]:
    """Whole 5x7 hands with the default network on CPU (one thread), 3 x 30 search.

    The network runs in-process; ``inference_evals_per_s`` (the InferenceServer under load) is
    measured separately.
    """
    from blobrl.nn import NetworkConfig, TorchEvaluator, build_network, param_count

    model = network or build_network(NetworkConfig())
    evaluator = TorchEvaluator(model)
    settings = SearchSettings(determinizations=3, simulations=30)
    in_flight = 32 if quick else 128
    warm = SelfPlayWorker(evaluator, settings=settings, games_in_flight=8)
    warm.play([GameSpec(PLAYERS, CARDS, seed=s) for s in range(8)])
    worker = SelfPlayWorker(evaluator, settings=settings, games_in_flight=in_flight)
    games = in_flight * 2
    start = time.perf_counter()
    worker.play([GameSpec(PLAYERS, CARDS, seed=10_000 + s) for s in range(games)])
    elapsed = time.perf_counter() - start
    return {
        "selfplay_games_per_min_per_core": games / elapsed * 60.0,
        "selfplay_eval_fraction": worker.stats.eval_fraction,
        "selfplay_evals_per_game": worker.stats.evaluations / games,
        "network_params": float(param_count(model)),
    }


def forward(quick: bool) -> dict[str, float]:
    """The bare default network in a loop at the self-play batch size (384 rows, one thread).

    ``forward_evals_per_s``: rows per second on random 0/1 inputs. ``forward_vs_gemm``: the
    forward pass's FLOP rate (its matrix products as the CPU path computes them, the sparse
    first layer counted by its non-zero inputs; see ``blobrl.nn.factory.matmul_flops_per_row``)
    over a 2048 x 2048 fp32 ``torch.mm``'s, timed in turn on this core, on 384 positions from
    random play of 5x7 hands.
    """
    import torch

    from blobrl.game import encode
    from blobrl.nn import NetworkConfig, build_network, forward_evals_per_s, forward_vs_gemm

    model = build_network(NetworkConfig())
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(384):
        state = new_game(PLAYERS, CARDS, seed=90_000 + seed)
        for _ in range(int(rng.integers(0, PLAYERS + PLAYERS * CARDS))):
            state.apply(int(rng.choice(state.legal_actions())))
        rows.append(encode(state))
    positions = torch.from_numpy(np.stack(rows).astype(np.float32))
    return {
        "forward_evals_per_s": forward_evals_per_s(
            model, batch_size=384, seconds=0.5 if quick else 2.0
        ),
        "forward_vs_gemm": forward_vs_gemm(
            model, positions, rounds=3 if quick else 7, seconds=0.1 if quick else 0.3
        ),
    }


def search_roots(quick: bool) -> dict[str, float]:
    """Gumbel against PUCT roots at an equal, low budget (1 world x 8 simulations).

    Pure search (uniform evaluator): on the same 5x7 deals, seats alternate between the two
    rules and then swap, so each deal is played from both sides. Reports mean score per hand
    of each rule.
    """
    deals = 16 if quick else 100
    rules = {
        root: SearchSettings(1, 8, root=root, final_temperature=0.0, temperature=0.0)
        for root in ("puct", "gumbel")
    }
    engines = {
        name: BatchedSearch(uniform_evaluator, max_games=1, settings=s) for name, s in rules.items()
    }
    totals = {"puct": 0.0, "gumbel": 0.0}
    counts = {"puct": 0, "gumbel": 0}
    for deal in range(deals):
        for swap in (0, 1):
            state = new_game(PLAYERS, CARDS, seed=50_000 + deal)
            rs = _rng.seed_streams([deal * 2 + swap])
            seat_rule = ["gumbel" if (seat + swap) % 2 else "puct" for seat in range(PLAYERS)]
            while not state.is_terminal():
                legal = state.legal_actions()
                if len(legal) == 1:
                    state.apply(legal[0])
                    continue
                name = seat_rule[state.current_player]
                result = engines[name].run(state.vector[None, :].copy(), np.array([True]), rs)
                state.apply(int(np.argmax(result.policy[0])))
            for seat, score in enumerate(state.scores()):
                totals[seat_rule[seat]] += score
                counts[seat_rule[seat]] += 1
    return {f"{name}_1x8_score_per_hand": totals[name] / counts[name] for name in totals}


def search_baseline(quick: bool) -> dict[str, float]:
    """The ``ismcts`` baseline and a model agent's decision at 1,000 simulations.

    ``ismcts_sims_per_s``: information-set MCTS with random rollouts on the first lead of 5x7
    hands (bids made at random). ``model_agent_s_per_decision_1k``: one decision of one game of
    a model agent with the default (untrained) network searching 1,000 simulations: the
    information-set search with 64 bid-weighted worlds and greedy rollouts (network rows for the
    world weights included); ``model_agent_worlds_s_per_decision_1k`` the same budget over
    determinized worlds (8 x 125, Gumbel root) for comparison. ``laptop_play_s_per_hand``: the
    seconds one seat's decisions of a 5x7 hand take with ``configs/laptop.yaml``'s evaluation
    search (the default search of its checkpoints; the network untrained, which costs what a
    trained one does) against four ``ismcts:1000``, mean over hands; the laptop bar allows 0.1 s.
    """
    from blobrl.agents import ModelAgent, play_settings
    from blobrl.agents.ismcts import IsmctsAgent, ismcts_settings
    from blobrl.nn import NetworkConfig, TorchEvaluator, build_network

    rng = np.random.default_rng(0)
    positions = []
    for seed in range(8 if quick else 32):
        state = new_game(PLAYERS, CARDS, seed=70_000 + seed)
        while state.phase == "bidding":
            legal = state.legal_actions()
            state.apply(int(legal[rng.integers(len(legal))]))
        positions.append(state)
    baseline = IsmctsAgent(1000, seed=0)
    baseline.act(positions[0])  # compile
    start = time.perf_counter()
    for state in positions:
        baseline.act(state)
    out = {"ismcts_sims_per_s": 1000 * len(positions) / (time.perf_counter() - start)}
    evaluator = TorchEvaluator(build_network(NetworkConfig()))
    agents = {
        "model_agent_s_per_decision_1k": ModelAgent(
            evaluator, settings=ismcts_settings(1000, rollout="greedy", belief_pool=64)
        ),
        "model_agent_worlds_s_per_decision_1k": ModelAgent(
            evaluator, settings=play_settings(8, 125, root="gumbel")
        ),
    }
    for key, agent in agents.items():
        agent.act(positions[0])  # compile and warm up
        start = time.perf_counter()
        for state in positions[:8]:
            agent.act(state)
        out[key] = (time.perf_counter() - start) / 8
    out["laptop_play_s_per_hand"] = _laptop_play_s_per_hand(hands=4 if quick else 20)
    return out


def _laptop_play_s_per_hand(hands: int) -> float:
    """Mean seconds of one seat's decisions in a 5x7 hand (trump by rotation) for
    ``configs/laptop.yaml``'s evaluation search, the other four seats ``ismcts:1000``."""
    from blobrl.agents import ModelAgent
    from blobrl.agents.ismcts import IsmctsAgent
    from blobrl.config import load_config
    from blobrl.nn import TorchEvaluator, build_network

    config = load_config(LAPTOP)
    agent = ModelAgent(
        TorchEvaluator(build_network(config.network)), settings=config.evaluation_search, seed=0
    )
    other = IsmctsAgent(1000, seed=1)
    spent = []
    for hand in range(hands + 1):  # the first hand warms up
        state = new_game(PLAYERS, CARDS, seed=90_000 + hand, trump_mode=config.run.trump_mode)
        seat, seconds = hand % PLAYERS, 0.0
        while not state.is_terminal():
            if state.current_player == seat:
                start = time.perf_counter()
                action = agent.act(state)
                seconds += time.perf_counter() - start
            else:
                action = other.act(state)
            state.apply(action)
        spent.append(seconds)
    return float(np.mean(spent[1:]))


SUITES: dict[str, Callable[..., Mapping[str, float | str | None]]] = {
    "engine": engine,
    "determinization": determinization,
    "mcts": mcts,
    "forward": forward,
    "selfplay": selfplay,
    "search_roots": search_roots,
    "search_baseline": search_baseline,
    "inference": inference,
    "game_log": gamelog,
    "actors": actors,
    "remote": remote,
}


def _shown(value: float | str | None) -> str:
    """A result as the log line shows it: numbers with separators, a skip's reason as it is."""
    if value is None:
        return "null"
    return value if isinstance(value, str) else f"{value:,.1f}"


def run_benchmarks(*, quick: bool = False, only: list[str] | None = None, log=print) -> dict:
    """Run the suites (all, or ``only``) on one core and return every number by key."""
    results: dict[str, float | str | None] = {}
    with one_core():
        for name, suite in SUITES.items():
            if only and name not in only:
                continue
            start = time.perf_counter()
            numbers = suite(quick)
            log(
                f"{name:>16}: "
                + ", ".join(f"{key}={_shown(value)}" for key, value in numbers.items())
                + f"  ({time.perf_counter() - start:.1f} s)"
            )
            results.update(numbers)
    return results
