"""Information-set search for a batch of games, guided by a network's beliefs.

:class:`InformationSetSearch` has the interface of :class:`~blobrl.mcts.search.BatchedSearch`
(``run(states, active, rs) -> SearchResult``), so self-play, model agents, the arena and the
gauntlet take either. Each game's decision is one ISMCTS (:mod:`blobrl.mcts.ismcts`: one tree
over the searcher's information sets, a world per simulation, random rollouts). With an
evaluator and ``settings.belief_pool > 0``, the worlds come from a pool weighted by how likely
the other seats' bids (and, with ``belief_plays``, their latest card plays) are under the
network's policy (:mod:`blobrl.mcts.beliefs`); the rows of
every game of the batch go to the evaluator in one call. The policy target is the root's visit
distribution.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from blobrl.game import core as k
from blobrl.game.encoding import FEATURES, encode_into
from blobrl.mcts import beliefs, ismcts
from blobrl.mcts.rollout import GREEDY_WEIGHTS, ROLLOUTS
from blobrl.mcts.search import (
    Answer,
    BatchedSearch,
    Evaluator,
    LeafRows,
    SearchResult,
    SearchSteps,
    drive,
)
from blobrl.mcts.settings import SearchSettings

_NO_POOL = np.zeros((0, k.STATE_SIZE), np.int64)
_NO_CUM = np.zeros(0, np.float64)
_REWARDS = {"own": ismcts.REWARD_OWN, "margin": ismcts.REWARD_MARGIN}
MIX_TEMPERATURE = 0.01  # of the softmax over mixed root scores (normalised points, [0, 1])


class InformationSetSearch:
    """Runs one information-set search per active game of a batch."""

    def __init__(
        self, evaluator: Evaluator | None, *, max_games: int, settings: SearchSettings
    ) -> None:
        self.evaluator = evaluator
        self.max_games = max_games
        self.settings = settings
        self._tree = ismcts.allocate(settings.simulations)
        self.evaluations = 0  # network rows evaluated (belief weights), for throughput reports
        self.effective_worlds: list[float] = []  # of the last call's weighted pools
        self.root_q = np.zeros((0, k.NUM_ACTIONS), np.float64)  # [G, 65] of the last call

    def set_settings(self, settings: SearchSettings) -> None:
        if settings.simulations > self.settings.simulations:
            self._tree = ismcts.allocate(settings.simulations)
        self.settings = settings

    @property
    def rollout_weights(self) -> np.ndarray:
        """The card-play rule of ``rollout: learned``: the evaluator's network's
        (``BlobNet.rollout_weights``), the greedy rule without one."""
        weights = getattr(self.evaluator, "rollout_weights", None)
        return GREEDY_WEIGHTS if weights is None else weights

    def run(self, states: np.ndarray, active: np.ndarray, rs: np.ndarray) -> SearchResult:
        """Search the decision of the player to act in each active game.

        ``states``: int64[G, STATE_SIZE] (not modified); ``active``: bool[G]; ``rs``: uint64[G]
        per-game random streams (game ``i`` draws from stream ``i``).
        """
        return drive(self.steps(states, active, rs), self.evaluator)

    def steps(self, states: np.ndarray, active: np.ndarray, rs: np.ndarray) -> SearchSteps:
        """:meth:`run` as a generator of its evaluations (:data:`~blobrl.mcts.search.
        SearchSteps`), for a caller that evaluates the rows itself."""
        g = states.shape[0]
        if g > self.max_games:
            raise ValueError(f"batch of {g} games exceeds max_games={self.max_games}")
        s = self.settings
        pools, evaluations = yield from self._weighted_pools(states, active, rs)
        visits = np.zeros((g, k.NUM_ACTIONS), np.float64)
        value = np.zeros(g, np.float32)
        q = np.zeros((g, k.NUM_ACTIONS), np.float64)
        t = self._tree
        mode = _REWARDS[s.reward]
        rollout_weights = self.rollout_weights
        for i in np.flatnonzero(active):
            pool, cum = pools[i]
            ismcts.run(
                states[i],
                s.simulations,
                s.c_uct,
                mode,
                ROLLOUTS[s.rollout],
                s.rollout_epsilon,
                rollout_weights,
                rs,
                int(i),
                pool,
                cum,
                t.children,
                t.visits,
                t.avail,
                t.reward,
                t.mover,
                t.world,
                t.path,
                t.buf,
                visits[i],
                q[i],
            )
            total = visits[i].sum()
            value[i] = float((visits[i] * q[i]).sum() / total) if total > 0 else 0.0
        self.root_q = q
        totals = visits.sum(axis=1, keepdims=True)
        policy = np.divide(visits, totals, out=np.zeros_like(visits), where=totals > 0)
        evaluations += yield from self._mix_values(states, active, visits, q, policy)
        self.evaluations += evaluations
        return SearchResult(policy.astype(np.float32), visits, value, evaluations)

    def _mix_values(
        self,
        states: np.ndarray,
        active: np.ndarray,
        visits: np.ndarray,
        q: np.ndarray,
        policy: np.ndarray,
    ) -> Generator[LeafRows, Answer, int]:
        """Where ``value_mix_bid``/``value_mix_play`` is set, score each root action by
        ``(1 - w) * tree Q + w * network value`` of the searcher's information state after it,
        and make ``policy`` a sharp softmax of that score (``MIX_TEMPERATURE``); returns the
        rows evaluated."""
        s = self.settings
        if self.evaluator is None or (s.value_mix_bid == 0 and s.value_mix_play == 0):
            return 0
        games, actions, weights = [], [], []
        buf = np.zeros(k.NUM_ACTIONS, np.int64)
        for i in np.flatnonzero(active).tolist():
            bidding = states[i, k.F_PHASE] == k.PHASE_BID
            w = s.value_mix_bid if bidding else s.value_mix_play
            if w == 0:
                continue
            for j in range(k.legal_actions(states[i], buf)):
                games.append(i)
                actions.append(int(buf[j]))
                weights.append(w)
        if not games:
            return 0
        features = np.zeros((len(games), FEATURES), np.float32)
        after = np.zeros(k.STATE_SIZE, np.int64)
        for r, (i, a) in enumerate(zip(games, actions, strict=True)):
            after[:] = states[i]
            k.apply_unchecked(after, a)
            encode_into(after, int(states[i, k.F_PLAYER]), features[r])
        _, values = yield (features,)
        own = np.asarray(values, np.float64)[:, 0]  # relative seat 0: the searcher
        score = np.full(q.shape, -np.inf)
        for r, (i, a, w) in enumerate(zip(games, actions, weights, strict=True)):
            tree = q[i, a] if visits[i, a] > 0 else own[r]
            score[i, a] = (1.0 - w) * tree + w * own[r]
        for i in set(games):
            z = np.exp((score[i] - score[i].max()) / MIX_TEMPERATURE)
            policy[i] = z / z.sum()
        return len(games)

    def _weighted_pools(
        self, states: np.ndarray, active: np.ndarray, rs: np.ndarray
    ) -> Generator[LeafRows, Answer, tuple[list[tuple[np.ndarray, np.ndarray]], int]]:
        """A (pool, running weight sums) per game, empty (fresh uniform worlds) where there is
        no network or no other seat's bid to learn from; and the rows evaluated."""
        g = states.shape[0]
        plain: list[tuple[np.ndarray, np.ndarray]] = [(_NO_POOL, _NO_CUM)] * g
        p = self.settings.belief_pool
        if self.evaluator is None or p == 0:
            return plain, 0
        plays = self.settings.belief_plays
        counts = np.array(
            [beliefs.observed_actions(states[i], plays) if active[i] else 0 for i in range(g)],
            np.int64,
        )
        rows = int(p * counts.sum())
        if rows == 0:
            return plain, 0
        features = np.zeros((rows, FEATURES), np.float32)
        masks = np.zeros((rows, k.NUM_ACTIONS), np.bool_)
        row_world = np.zeros(rows, np.int64)
        row_action = np.zeros(rows, np.int64)
        spans: dict[int, tuple[np.ndarray, int, int]] = {}
        r = 0
        for game in np.flatnonzero(counts).tolist():
            pool = np.zeros((p, k.STATE_SIZE), np.int64)
            beliefs.sample_pool(states[game], p, rs, game, pool)
            start = r
            r = beliefs.history_rows(
                states[game], pool, p, plays, features, masks, row_world, row_action, r
            )
            spans[game] = (pool, start, r)
        if r == 0:  # every observed action was forced
            return plain, 0
        features, masks = features[:r], masks[:r]
        logits, _ = yield (features,)
        logits = np.ascontiguousarray(logits, dtype=np.float32)
        self.effective_worlds = []
        for game, (pool, start, stop) in spans.items():
            cum = np.zeros(p, np.float64)
            self.effective_worlds.append(
                beliefs.world_cum(
                    logits,
                    masks,
                    row_world,
                    row_action,
                    start,
                    stop,
                    p,
                    self.settings.belief_sharpness,
                    cum,
                )
            )
            plain[game] = (pool, cum)
        return plain, r


def make_search(
    evaluator: Evaluator | None, *, max_games: int, settings: SearchSettings
) -> BatchedSearch | InformationSetSearch:
    """The batched search that ``settings.tree`` names, over ``max_games`` games."""
    if settings.tree == "information_set":
        return InformationSetSearch(evaluator, max_games=max_games, settings=settings)
    if evaluator is None:
        raise ValueError("a search over determinized worlds needs an evaluator")
    return BatchedSearch(evaluator, max_games=max_games, settings=settings)
