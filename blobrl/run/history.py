"""The run's histories: losses per iteration, arenas, gauntlets, and the ratings fitted to
every match (random = 0; :class:`blobrl.evaluation.RatingLedger`)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from blobrl.evaluation import MatchEdge, MatchResult, RatingLedger, checkpoint_player
from blobrl.evaluation.gauntlet import gauntlet_edges, ismcts_opponent
from blobrl.learner import IterationMetrics
from blobrl.run.records import EloEntry, RunCheckpoint

log = logging.getLogger(__name__)


class RunHistory:
    """What the run has learned and measured, as checkpoints keep it."""

    def __init__(self, *, gauntlet_ismcts: tuple[int, ...] | list[int] = ()):
        self.elo: list[EloEntry] = []
        self.loss: list[dict[str, Any]] = []  # {"iteration": i, **IterationMetrics}
        self.gauntlet: list[dict[str, Any]] = []  # the evaluator's gauntlet results
        # The fixed agents rated from the start (null until a gauntlet places them).
        self.rated_agents = ["random", "heuristic", *(ismcts_opponent(n) for n in gauntlet_ismcts)]
        self.rating = RatingLedger(players=self.rated_agents)

    @property
    def evaluations(self) -> int:
        """Arenas and gauntlets recorded (a checkpoint saved before some is re-saved)."""
        return len(self.elo) + len(self.gauntlet)

    def restore(self, checkpoint: RunCheckpoint) -> None:
        self.elo = [EloEntry.from_dict(e) for e in checkpoint.elo_history]
        self.loss = list(checkpoint.loss_history)
        self.gauntlet = list(checkpoint.gauntlet_history)
        self.rating = RatingLedger.from_list(checkpoint.rating_edges, players=self.rated_agents)
        self._rate()

    def add_loss(self, iteration: int, metrics: IterationMetrics) -> dict[str, Any]:
        entry = {"iteration": iteration, **asdict(metrics)}
        self.loss.append(entry)
        return entry

    @property
    def lr(self) -> float:
        """The learning rate of the last iteration trained (0 before any)."""
        return float(self.loss[-1].get("lr", 0.0)) if self.loss else 0.0

    def add_arena(
        self, iteration: int, result: MatchResult, *, best_version: int, promoted: bool
    ) -> EloEntry:
        """Record the arena of ``iteration`` against the best of ``best_version``."""
        edge = MatchEdge.from_scores(
            checkpoint_player(iteration),
            checkpoint_player(best_version),
            result.per_deal_a,
            result.per_deal_b,
            kind="arena",
            iteration=iteration,
        )
        self.elo.append(
            EloEntry(
                iteration=iteration,
                share=result.a_share,
                score_share=edge.share,
                elo_diff=edge.elo,  # observed against the best, this arena alone
                elo_diff_ci95=edge.ci95,
                promoted=promoted,
                candidate_score=result.a.mean_score,
                best_score=result.b.mean_score,
                best_version=best_version,
                seconds=result.seconds,
            )
        )
        self._add_edges([edge])
        return self.elo[-1]

    def add_gauntlet(self, iteration: int, result: dict[str, Any]) -> None:
        self.gauntlet.append(result)
        self._add_edges(gauntlet_edges(result, checkpoint_player(iteration)))

    def _add_edges(self, edges: list[MatchEdge]) -> None:
        """Record matches, refit the ratings and rate every arena entry again with them."""
        self.rating.add(edges)
        self._rate()

    def _rate(self) -> None:
        # New entries, not edited ones: what was emitted or saved keeps what it said then.
        rated = []
        for entry in self.elo:
            r = self.rating.get(checkpoint_player(entry.iteration))
            rated.append(entry.rated(r.elo, r.ci95))
        self.elo = rated

    def rating_view(self, best_version: int) -> dict[str, Any]:
        """The best network's rating and the fixed agents' (random = 0), for the metrics."""
        best = self.rating.get(checkpoint_player(best_version))
        return {
            "best_elo": best.elo,
            "best_elo_ci95": best.ci95,
            "baselines": {
                r.player: {"elo": r.elo, "ci95": r.ci95} for r in self.rating.fixed_agents()
            },
        }

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """``/api/history``: ``elo``, ``loss`` and ``gauntlet`` lists."""
        return {
            "elo": [e.to_dict() for e in self.elo],
            "loss": list(self.loss),
            "gauntlet": list(self.gauntlet),
        }
