"""EvaluatorService: the arena of a new network against the best one, and the gauntlet of a
network against fixed reference agents, off the self-play path."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

import torch

from blobrl.agents import ModelAgent
from blobrl.evaluation import Deal, MatchResult, SearchAgent, play_match
from blobrl.evaluation.gauntlet import (
    GauntletResult,
    gauntlet_sizes,
    ismcts_opponent,
    run_gauntlet,
)
from blobrl.mcts import SearchSettings
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network, bytes_to_state_dict

log = logging.getLogger(__name__)


GAUNTLET_SEED = 7_000_000  # the gauntlet's deals: the same at every iteration
ARENA_SEED = 900_000_000  # the arena's deals: ARENA_SEED + iteration * 10_000 + deal index


def apportion(weights: Sequence[float], total: int) -> list[int]:
    """``total`` split in proportion to ``weights`` by largest remainder: every share gets the
    whole part of its quota, and the seats left go to the largest fractional parts (the earlier
    entry on a tie). The counts add up to ``total`` exactly and depend on nothing else."""
    if total < 0 or not weights or any(w <= 0 for w in weights):
        raise ValueError(f"cannot apportion {total} over weights {list(weights)}")
    # The weights as written in the config (0.15, not its binary neighbour), so that a quota
    # that is whole on paper is whole here and the ties are real ones.
    exact = [Fraction(repr(float(w))) for w in weights]
    quotas = [total * w / sum(exact) for w in exact]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda k: (counts[k] - quotas[k], k))
    for k in by_remainder[: total - sum(counts)]:
        counts[k] += 1
    return counts


class EvaluatorService:
    """Plays arena and gauntlet matches.

    With ``server`` (an InferenceServer actor handle) the networks it compares are loaded into
    the server by name for the length of a match, so that their evaluations are batched on the
    server's device (the GPU) beside self-play's; without one it runs its own copies on its
    CPU. ``deals`` are the (players, cards) sizes of the run's game mix and ``weights`` their
    shares of it (default: equal); an arena's ``arena_deals`` follow those shares (see
    :meth:`arena_deal_list`). The gauntlet plays 5x7 and ``main_deal`` (default: the first of
    ``deals``) with ``gauntlet_deals`` duplicate deals each, and the ismcts baselines of
    ``gauntlet_ismcts`` (simulations per decision) at 5x7.
    """

    def __init__(
        self,
        network: NetworkConfig,
        settings: SearchSettings,
        *,
        deals: list[tuple[int, int]],
        arena_deals: int,
        weights: list[float] | None = None,
        trump_mode: str = "rotation",
        scoring: str = "blob",
        torch_threads: int | None = 1,
        main_deal: tuple[int, int] | None = None,
        gauntlet_deals: int = 100,
        gauntlet_ismcts: Sequence[int] = (),
        server: Any = None,
        shared_memory: bool = True,
    ):
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        self.network = network
        self.settings = settings
        self.shared_memory = shared_memory  # arenas reach the server through shared memory
        if weights is not None and len(weights) != len(deals):
            raise ValueError(f"{len(deals)} deal sizes but {len(weights)} weights")
        self.deal_sizes = deals
        self.arena_deals = arena_deals
        # Deals of each size per arena: the same for every arena of the run.
        self.arena_counts = apportion(weights or [1.0] * len(deals), arena_deals)
        self.trump_mode = trump_mode
        self.scoring = scoring
        self.main_deal = tuple(main_deal or deals[0])
        self.gauntlet_deals = gauntlet_deals
        self.gauntlet_ismcts = tuple(int(n) for n in gauntlet_ismcts)
        self.server = server
        log.info(
            "evaluator ready: %d deals per arena, %d per gauntlet match, networks %s",
            arena_deals,
            gauntlet_deals,
            "on the InferenceServer" if server is not None else "in this actor",
        )

    @contextlib.contextmanager
    def _evaluator(self, weights: bytes, name: str) -> Iterator[Any]:
        """An evaluator for ``weights``: the server's, under ``name`` until the block ends, or
        a network of this actor's own."""
        if self.server is None:
            model = build_network(self.network)
            model.load_state_dict(bytes_to_state_dict(weights))
            yield TorchEvaluator(model)
            return
        import ray

        from blobrl.actors.inference import RemoteEvaluator

        stored = ray.put(weights)

        def load() -> None:
            ray.get(self.server.load_model.remote(name, stored))

        load()
        evaluator = RemoteEvaluator(
            self.server, model=name, reload=load, channel=self.shared_memory
        )
        try:
            yield evaluator
        finally:
            evaluator.close()
            with contextlib.suppress(Exception):  # a restarted server has lost it anyway
                ray.get(self.server.unload_model.remote(name), timeout=30)

    def arena_deal_list(self, iteration: int) -> list[Deal]:
        """The duplicate deals of the arena after ``iteration``: each size of the game mix as
        often as its weight says (:func:`apportion` of ``arena_deals``), in the mix's order,
        with shuffles fresh at each iteration and the same for the same iteration."""
        counts = zip(self.deal_sizes, self.arena_counts, strict=True)
        sizes = [size for size, count in counts for _ in range(count)]
        return [
            Deal(*size, seed=ARENA_SEED + iteration * 10_000 + i) for i, size in enumerate(sizes)
        ]

    def arena(self, candidate: bytes, best: bytes, *, iteration: int) -> MatchResult:
        """Candidate against best on the deals of :meth:`arena_deal_list` (fresh each
        iteration)."""
        deals = self.arena_deal_list(iteration)
        started = time.perf_counter()
        with (
            self._evaluator(candidate, f"arena-{iteration}-candidate") as new,
            self._evaluator(best, f"arena-{iteration}-best") as old,
        ):
            result = play_match(
                SearchAgent(new, self.settings),
                SearchAgent(old, self.settings),
                deals,
                trump_mode=self.trump_mode,
                scoring=self.scoring,
                seed=iteration,
            )
        result = replace(result, seconds=round(time.perf_counter() - started, 3))
        log.info(
            "arena after iteration %d: candidate %.2f vs best %.2f per hand, share %.3f",
            iteration,
            result.a.mean_score,
            result.b.mean_score,
            result.a_share,
        )
        return result

    def gauntlet(self, weights: bytes, *, iteration: int) -> GauntletResult:
        """The network of ``weights``, with the evaluation search, against the random and the
        heuristic agents on the same duplicate deals every time (5x7 and the main deal), and
        against the ``ismcts:SIMS`` baselines of ``gauntlet_ismcts`` at 5x7.

        Returns the :class:`GauntletResult`, whose :meth:`~GauntletResult.to_dict` is what the
        run's history keeps: ``{"iteration", "seconds", "matches": [{
        "opponent", "players", "cards", "deals", "score", "score_ci95", "opponent_score",
        "opponent_ci95", "diff", "diff_ci95", "exact_rate", "opponent_exact_rate", "share",
        "share_se", "verdict"}]}`` with mean scores per hand, 95% half-widths over deals and the
        network's paired score share (its standard error None with one deal).
        """
        main = self.main_deal
        with self._evaluator(weights, f"gauntlet-{iteration}") as evaluator:
            agent = ModelAgent(
                evaluator, settings=self.settings, seed=iteration, name=f"iteration {iteration}"
            )
            result = run_gauntlet(
                agent,
                sizes=gauntlet_sizes((int(main[0]), int(main[1]))),
                deals=self.gauntlet_deals,
                reference_opponents=[ismcts_opponent(n) for n in self.gauntlet_ismcts],
                iteration=iteration,
                seed=GAUNTLET_SEED,
                trump_mode=self.trump_mode,
                scoring=self.scoring,
            )
        for m in result.matches:
            log.info(
                "gauntlet after iteration %d, %dx%d vs %s: %.2f ± %.2f vs %.2f per hand "
                "(difference %+.2f ± %.2f, %s)",
                iteration,
                m.players,
                m.cards,
                m.opponent,
                m.score,
                m.score_ci95,
                m.opponent_score,
                m.diff,
                m.diff_ci95,
                m.verdict,
            )
        return result
