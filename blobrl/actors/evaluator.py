"""EvaluatorService: the arena of a new network against the best one, off the self-play path."""

from __future__ import annotations

import logging

import torch

from blobrl.evaluation import Deal, MatchResult, SearchAgent, play_match
from blobrl.mcts import SearchSettings
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network, bytes_to_state_dict

log = logging.getLogger(__name__)


class EvaluatorService:
    """Plays arena matches; holds its own copies of the networks it compares."""

    def __init__(
        self,
        network: NetworkConfig,
        settings: SearchSettings,
        *,
        deals: list[tuple[int, int]],
        arena_deals: int,
        trump_mode: str = "rotation",
        scoring: str = "blob",
        torch_threads: int | None = 1,
    ):
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        self.network = network
        self.settings = settings
        self.deal_sizes = deals
        self.arena_deals = arena_deals
        self.trump_mode = trump_mode
        self.scoring = scoring
        log.info("evaluator ready: %d deals per arena", arena_deals)

    def _agent(self, weights: bytes) -> SearchAgent:
        model = build_network(self.network)
        model.load_state_dict(bytes_to_state_dict(weights))
        return SearchAgent(TorchEvaluator(model), self.settings)

    def arena(self, candidate: bytes, best: bytes, *, iteration: int) -> MatchResult:
        """Candidate against best on ``arena_deals`` duplicate deals (fresh deals each call)."""
        sizes = self.deal_sizes
        deals = [
            Deal(*sizes[i % len(sizes)], seed=900_000_000 + iteration * 10_000 + i)
            for i in range(self.arena_deals)
        ]
        result = play_match(
            self._agent(candidate),
            self._agent(best),
            deals,
            trump_mode=self.trump_mode,
            scoring=self.scoring,
            seed=iteration,
        )
        log.info(
            "arena after iteration %d: candidate %.2f vs best %.2f per hand, share %.3f",
            iteration,
            result.a.mean_score,
            result.b.mean_score,
            result.a_share,
        )
        return result

    def ping(self) -> str:
        return "evaluator"
