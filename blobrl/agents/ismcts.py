"""Information-set MCTS players.

``ismcts:SIMS`` is the search baseline every trained player is measured against: information-set
MCTS with random rollouts and no network. Given a network (an ``evaluator``), the same search
draws its worlds from a pool weighted by how likely the other seats' bids are under the
network's policy (:mod:`blobrl.mcts.beliefs`) instead of uniformly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blobrl.game import FEATURES, BlobState
from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.mcts import Evaluator, beliefs, ismcts

_NO_POOL = np.zeros((0, k.STATE_SIZE), np.int64)
_NO_CUM = np.zeros(0, np.float64)
DEFAULT_POOL = 64
DEFAULT_SHARPNESS = 1.0


class IsmctsAgent:
    """Plays the most visited root action of an ISMCTS of ``simulations`` simulations.

    Each decision's random stream is derived from ``seed`` and what the acting seat knows, so an
    agent replays the same decision in the same situation whatever it decided before. With an
    ``evaluator``, worlds come from a pool of ``pool_size`` uniform worlds reweighted by the
    other seats' bids (``sharpness`` tempers the policy).
    """

    def __init__(
        self,
        simulations: int,
        *,
        seed: int = 0,
        c_uct: float = ismcts.DEFAULT_C,
        reward_mode: int = ismcts.REWARD_OWN,
        evaluator: Evaluator | None = None,
        pool_size: int = DEFAULT_POOL,
        sharpness: float = DEFAULT_SHARPNESS,
        name: str | None = None,
    ) -> None:
        if simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {simulations}")
        if pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, got {pool_size}")
        self.simulations = simulations
        self.seed = seed
        self.c_uct = c_uct
        self.reward_mode = reward_mode
        self.evaluator = evaluator
        self.pool_size = pool_size
        self.sharpness = sharpness
        self.name = name or f"ismcts:{simulations}"
        self._tree = ismcts.allocate(simulations)
        self.root_visits = np.zeros(k.NUM_ACTIONS, np.float64)
        self.root_q = np.zeros(k.NUM_ACTIONS, np.float64)
        self.effective_worlds = 0.0  # of the last weighted pool

    def act(self, state: BlobState) -> int:
        return self.act_batch([state])[0]

    def act_batch(self, states: Sequence[BlobState]) -> list[int]:
        buf = self._tree.buf
        out: list[int] = []
        todo: list[int] = []
        for i, s in enumerate(states):
            if k.legal_actions(s.vector, buf) == 1:
                out.append(int(buf[0]))
            else:
                out.append(-1)
                todo.append(i)
        pools = self._weighted_pools([states[i].vector for i in todo])
        for i, (pool, cum) in zip(todo, pools, strict=True):
            self.search(states[i].vector, pool, cum)
            out[i] = int(np.argmax(self.root_visits))
        return out

    def _weighted_pools(self, vectors: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """A (pool, running weight sums) per state; empty pools (fresh uniform worlds) where
        there is no network or no bid to learn from."""
        plain = [(_NO_POOL, _NO_CUM)] * len(vectors)
        if self.evaluator is None:
            return plain
        counts = [int(beliefs.observed_bids(v)) for v in vectors]
        rows = self.pool_size * sum(counts)
        if rows == 0:
            return plain
        p = self.pool_size
        features = np.zeros((rows, FEATURES), np.float32)
        masks = np.zeros((rows, k.NUM_ACTIONS), np.bool_)
        row_world = np.zeros(rows, np.int64)
        row_action = np.zeros(rows, np.int64)
        pools: list[np.ndarray] = []
        spans: list[tuple[int, int]] = []
        r = 0
        for v, c in zip(vectors, counts, strict=True):
            pool = np.zeros((p, k.STATE_SIZE), np.int64)
            start = r
            if c:
                rs = _rng.seed_streams([ismcts.state_seed(v, self.seed) ^ 0x5DEECE66D])
                beliefs.sample_pool(v, p, rs, 0, pool)
                r = beliefs.bid_rows(v, pool, p, features, masks, row_world, row_action, r)
            pools.append(pool)
            spans.append((start, r))
        logits, _ = self.evaluator(features)
        logits = np.ascontiguousarray(logits, dtype=np.float32)
        result = []
        for pool, (start, stop), c in zip(pools, spans, counts, strict=True):
            if not c:
                result.append((_NO_POOL, _NO_CUM))
                continue
            cum = np.zeros(p, np.float64)
            self.effective_worlds = beliefs.world_cum(
                logits, masks, row_world, row_action, start, stop, p, self.sharpness, cum
            )
            result.append((pool, cum))
        return result

    def search(
        self, vec: np.ndarray, pool: np.ndarray = _NO_POOL, cum: np.ndarray = _NO_CUM
    ) -> None:
        """Search ``vec`` (the player to act); fills ``root_visits`` and ``root_q``."""
        rs = _rng.seed_streams([ismcts.state_seed(vec, self.seed)])
        t = self._tree
        ismcts.run(
            vec,
            self.simulations,
            self.c_uct,
            self.reward_mode,
            rs,
            0,
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
            self.root_visits,
            self.root_q,
        )
