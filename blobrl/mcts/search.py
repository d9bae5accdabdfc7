"""Batched determinized search over many games at once.

:class:`BatchedSearch` owns the tree arrays (allocated once, reused every decision) and runs one
decision for every active game of a batch: sample ``K`` worlds per game, then repeatedly advance
every tree to a leaf, evaluate all leaves in **one** call of the injected evaluator, and back up.
The evaluator is any ``Callable[[float32[B, FEATURES]], (float32[B, 65], float32[B, 8])]``: a
local torch model, the InferenceServer client, or a fake in tests. An evaluator with a
``packed_rows(bits, cont)`` method (the InferenceServer's client) gets the leaves in the wire
form instead (:mod:`blobrl.data.wire`), written as they are encoded: the same rows, without a
float batch to write and pack again.

Two root rules:

* ``puct``: PUCT with Dirichlet noise; the policy target is the root visit distribution summed
  over worlds.
* ``gumbel``: Gumbel sequential halving (Danihelka et al., 2022) over the actions at the root,
  with the same forced root action in every world; the policy target is the improved policy
  ``softmax(logits + sigma(completed Q))``, which stays informative at very low simulation counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from blobrl.data import CONT
from blobrl.data.wire import WIRE_BIT_BYTES
from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.game.encoding import FEATURES
from blobrl.mcts import tree as _tree
from blobrl.mcts.settings import SearchSettings

Evaluator = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
# (uint8[B, WIRE_BIT_BYTES] bits, float32[B, CONT] cont) -> (logits, values), as an Evaluator
PackedEvaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
# The rows a search step wants evaluated: ``(features,)`` as float32[B, FEATURES], or
# ``(bits, cont)`` in wire form for an evaluator with ``packed_rows``.
LeafRows = tuple[np.ndarray, ...]
Answer = tuple[np.ndarray, np.ndarray]  # (float32[B, 65] logits, float32[B, 8] values)


@dataclass
class SearchResult:
    """What one decision's search produced for each game of the batch (rows of inactive games
    are zero)."""

    policy: np.ndarray  # float32[G, 65]: policy target, zero on illegal actions
    visits: np.ndarray  # float64[G, 65]: root visits summed over worlds
    value: np.ndarray  # float32[G]: root value estimate for the acting seat
    evaluations: int  # rows sent to the evaluator (leaves, and searcher views of leaves)


# A search written as a generator: it yields the rows it wants evaluated, is sent their answer,
# and returns its result. :func:`drive` runs one to the end with an evaluator; a self-play worker
# runs several at once, each searching while the others' rows are being evaluated.
SearchSteps = Generator[LeafRows, Answer, SearchResult]


def evaluate(evaluator: Evaluator, rows: LeafRows) -> Answer:
    """The answer to one step's ``rows`` from ``evaluator`` (its ``packed_rows`` for rows in
    wire form)."""
    if len(rows) == 1:
        return evaluator(rows[0])
    return evaluator.packed_rows(*rows)  # type: ignore[attr-defined]


def drive(steps: SearchSteps, evaluator: Evaluator | None) -> SearchResult:
    """Run the search ``steps`` to its end, each step's rows answered by ``evaluator`` (None
    for a search that evaluates nothing)."""
    try:
        rows = next(steps)
        while True:
            if evaluator is None:
                raise ValueError("the search wants rows evaluated and has no evaluator")
            rows = steps.send(evaluate(evaluator, rows))
    except StopIteration as done:
        return done.value


class BatchedSearch:
    """Runs determinized search for up to ``max_games`` games at a time."""

    def __init__(self, evaluator: Evaluator, *, max_games: int, settings: SearchSettings):
        self.evaluator = evaluator
        # Leaves in wire form (blobrl.data.wire) for an evaluator with ``packed_rows``, as a
        # server's client takes them (:func:`evaluate` calls it).
        self._packed = getattr(evaluator, "packed_rows", None) is not None
        self.max_games = max_games
        self.settings = settings
        self._allocate(settings)
        self.evaluations = 0  # total leaves evaluated, for throughput reporting

    def _allocate(self, settings: SearchSettings) -> None:
        kk = settings.determinizations
        trees = self.max_games * kk
        nodes = settings.simulations + 1
        self._trees, self._nodes = trees, nodes
        self.world_roots = np.zeros((trees, k.STATE_SIZE), np.int64)
        self.leaf_legal = np.zeros((trees, _tree.BRANCH), np.int8)  # each leaf's legal actions
        self.leaf_count = np.zeros(trees, np.int64)
        self.leaf_player = np.zeros(trees, np.int64)
        self.node_count = np.zeros(trees, np.int64)
        # Edges by legal-action position (see blobrl.mcts.tree), not by action id; node ids in
        # 16 bits while they fit, the trees' largest array then a quarter smaller.
        small = nodes <= np.iinfo(np.int16).max
        self.children = np.full(
            (trees, nodes, _tree.BRANCH), _tree.UNEXPANDED, np.int16 if small else np.int32
        )
        self.prior = np.zeros((trees, nodes, _tree.BRANCH), np.float32)
        self.visits = np.zeros((trees, nodes), np.int32)
        self.value = np.zeros((trees, nodes, k.MAX_PLAYERS), np.float32)
        self.expanded = np.zeros((trees, nodes), np.bool_)
        self.path = np.zeros((trees, _tree.MAX_DEPTH), np.int64)
        self.path_len = np.zeros(trees, np.int64)
        self.sims_done = np.zeros(trees, np.int64)
        self.root_forced = np.full(trees, _tree.NO_FORCED, np.int64)
        # A leaf row per tree, then room for a searcher-view row per tree: floats, or the wire
        # form for an evaluator that takes it (``packed_rows``), whose client need not pack,
        # written where the evaluator sends them from when it has such memory to lend
        # (``row_buffers``: a shared-memory channel's slot), so that they go without a copy.
        rows = 2 * trees
        self.features = np.zeros((1 if self._packed else rows, FEATURES), np.float32)
        lend = getattr(self.evaluator, "row_buffers", None) if self._packed else None
        lent = lend(rows) if lend is not None else None
        if lent is not None:
            self.bits, self.cont = lent
        else:
            self.bits = np.zeros((rows if self._packed else 1, WIRE_BIT_BYTES), np.uint8)
            self.cont = np.zeros((rows if self._packed else 1, CONT), np.float32)
        self.leaf_tree = np.zeros(trees, np.int64)
        self.own_row = np.zeros(trees, np.int64)
        self._own_count = np.zeros(1, np.int64)

    def set_settings(self, settings: SearchSettings) -> None:
        """Switch search settings (e.g. at a schedule phase change); grows arrays if needed."""
        if (
            settings.determinizations * self.max_games > self._trees
            or settings.simulations + 1 > self._nodes
        ):
            self._allocate(settings)
        self.settings = settings

    # ---- one decision ---------------------------------------------------------------------
    def run(self, states: np.ndarray, active: np.ndarray, rs: np.ndarray) -> SearchResult:
        """Search the decision of the player to act in each active game.

        ``states``: int64[G, STATE_SIZE] real states (not modified); ``active``: bool[G], games
        whose player to act has at least two legal actions; ``rs``: uint64[G] per-game streams.
        """
        return drive(self.steps(states, active, rs), self.evaluator)

    def steps(self, states: np.ndarray, active: np.ndarray, rs: np.ndarray) -> SearchSteps:
        """:meth:`run` as a generator of its evaluations (:data:`SearchSteps`): the same search,
        for a caller that evaluates the rows itself. Nothing may touch this search's arrays
        between a yield and the answer sent back."""
        g = states.shape[0]
        if g > self.max_games:
            raise ValueError(f"batch of {g} games exceeds max_games={self.max_games}")
        s = self.settings
        kk = s.determinizations
        t = g * kk
        views = self._views(t)
        _tree.start_worlds(
            states,
            active,
            kk,
            rs,
            views["world_roots"],
            views["node_count"],
            views["children"],
            views["visits"],
            views["value"],
            views["expanded"],
            views["sims_done"],
        )
        if s.root == "gumbel":
            return (yield from self._run_gumbel(states, active, rs, views))
        views["root_forced"][:] = _tree.NO_FORCED
        evaluations = yield from self._simulate(views, s.simulations, s.dirichlet_weight, rs)
        visits = np.zeros((g, k.NUM_ACTIONS), np.float64)
        roots = views["world_roots"]
        _tree.root_visits(
            views["children"], views["visits"], views["node_count"], roots, kk, visits
        )
        totals = visits.sum(axis=1, keepdims=True)
        policy = np.divide(visits, totals, out=np.zeros_like(visits), where=totals > 0)
        return SearchResult(
            policy.astype(np.float32), visits, self._root_value(states, views), evaluations
        )

    def _views(self, t: int) -> dict[str, np.ndarray]:
        names = [
            "world_roots",
            "leaf_legal",
            "leaf_count",
            "leaf_player",
            "node_count",
            "children",
            "prior",
            "visits",
            "value",
            "expanded",
            "path",
            "path_len",
            "sims_done",
            "root_forced",
            "leaf_tree",
            "own_row",
        ]
        views = {name: getattr(self, name)[:t] for name in names}
        for name in ("features", "bits", "cont"):
            views[name] = getattr(self, name)[: 2 * t]
        return views

    def _simulate(
        self, v: dict[str, np.ndarray], sims: int, noise_weight: float, rs: np.ndarray
    ) -> Generator[LeafRows, Answer, int]:
        """Run passes until every tree has ``sims`` simulations; return leaves evaluated."""
        s = self.settings
        evaluations = 0
        while True:
            leaves = _tree.select_leaves(
                v["world_roots"],
                v["leaf_legal"],
                v["leaf_count"],
                v["leaf_player"],
                v["node_count"],
                v["children"],
                v["prior"],
                v["visits"],
                v["value"],
                v["expanded"],
                v["path"],
                v["path_len"],
                v["sims_done"],
                sims,
                s.c_puct,
                v["root_forced"],
                v["features"],
                v["leaf_tree"],
                s.searcher_view,
                v["own_row"],
                self._own_count,
                self._packed,
                v["bits"],
                v["cont"],
            )
            if leaves == 0:
                break
            owns = int(self._own_count[0])
            rows = leaves + owns  # both views
            if self._packed:
                logits, values = yield v["bits"][:rows], v["cont"][:rows]
            else:
                logits, values = yield (v["features"][:rows],)
            values = np.ascontiguousarray(values, dtype=np.float32)
            _tree.expand_and_backup(
                leaves,
                v["leaf_tree"],
                np.ascontiguousarray(logits[:leaves], dtype=np.float32),
                values[:leaves],
                values[leaves:],
                v["own_row"],
                v["world_roots"],
                v["leaf_legal"],
                v["leaf_count"],
                v["leaf_player"],
                v["prior"],
                v["visits"],
                v["value"],
                v["expanded"],
                v["path"],
                v["path_len"],
                v["sims_done"],
                s.determinizations,
                s.dirichlet_alpha,
                noise_weight,
                rs,
            )
            evaluations += leaves + owns
        self.evaluations += evaluations
        return evaluations

    def _root_value(self, states: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
        """Mean root value of the acting seat over each game's worlds."""
        g = states.shape[0]
        kk = self.settings.determinizations
        players = np.maximum(states[:, k.F_PLAYER], 0)
        vis = v["visits"][:, 0].reshape(g, kk).astype(np.float64)
        val = v["value"][:, 0, :].reshape(g, kk, -1)[np.arange(g), :, players]  # [G, K]
        tot = vis.sum(axis=1)
        return np.divide(val.sum(axis=1), tot, out=np.zeros(g), where=tot > 0).astype(np.float32)

    # ---- Gumbel root ----------------------------------------------------------------------
    def _run_gumbel(
        self, states: np.ndarray, active: np.ndarray, rs: np.ndarray, v: dict[str, np.ndarray]
    ) -> SearchSteps:
        s = self.settings
        g, kk = states.shape[0], s.determinizations
        acting = np.maximum(states[:, k.F_PLAYER], 0)
        # Expand the roots first; every world of a game shares the root information state, so
        # world 0's priors are the game's.
        v["root_forced"][:] = _tree.NO_FORCED
        evaluations = yield from self._simulate(v, 0, 0.0, rs)
        legal = np.zeros((g, k.NUM_ACTIONS), np.bool_)
        for i in range(g):
            if active[i]:
                k.legal_mask(states[i], legal[i])
        root_prior = np.zeros((g, k.NUM_ACTIONS))
        _tree.root_prior(v["prior"], v["node_count"], v["world_roots"], kk, root_prior)
        logits = np.where(legal, np.log(np.maximum(root_prior, 1e-30)), -np.inf)
        noisy = _gumbel_noise(rs, legal) + logits
        remaining = [
            list(np.argsort(-noisy[i])[: min(s.gumbel_actions, int(legal[i].sum()))])
            if active[i]
            else []
            for i in range(g)
        ]
        phases = max(1, math.ceil(math.log2(max(s.gumbel_actions, 2))))
        done = 0
        q_sum = np.zeros((g, k.NUM_ACTIONS))
        q_cnt = np.zeros((g, k.NUM_ACTIONS))
        visits = np.zeros((g, k.NUM_ACTIONS))
        for phase in range(phases):
            last = phase == phases - 1
            # Visits per remaining action this phase, as in sequential halving.
            rounds = max(
                (max(1, s.simulations // (phases * len(r))) * len(r) for r in remaining if r),
                default=0,
            )
            if last:
                rounds = s.simulations - done
            for j in range(min(rounds, s.simulations - done)):
                for i in range(g):
                    r = remaining[i]
                    v["root_forced"][i * kk : (i + 1) * kk] = r[j % len(r)] if r else -1
                done += 1
                evaluations += yield from self._simulate(v, done, 0.0, rs)
            roots = v["world_roots"]
            _tree.root_q(
                v["children"], v["visits"], v["value"], v["node_count"], roots, kk, q_sum, q_cnt
            )
            _tree.root_visits(v["children"], v["visits"], v["node_count"], roots, kk, visits)
            if last:
                break
            for i in range(g):
                r = remaining[i]
                if len(r) > 1:
                    q = self._completed_q(v, i, acting[i], q_sum[i], q_cnt[i], legal[i])
                    score = noisy[i, r] + self._sigma(q, visits[i])[r]
                    remaining[i] = [r[idx] for idx in np.argsort(-score)[: len(r) // 2]]
        policy = np.zeros((g, k.NUM_ACTIONS), np.float32)
        for i in range(g):
            if active[i]:
                q = self._completed_q(v, i, acting[i], q_sum[i], q_cnt[i], legal[i])
                z = np.where(legal[i], logits[i] + self._sigma(q, visits[i]), -np.inf)
                z = np.exp(z - z.max())
                policy[i] = z / z.sum()
        return SearchResult(policy, visits, self._root_value(states, v), evaluations)

    def _sigma(self, q: np.ndarray, visits: np.ndarray) -> np.ndarray:
        """The monotone transform of Q used by Gumbel MuZero (``q`` rescaled to [0, 1])."""
        s = self.settings
        return (s.gumbel_c_visit + visits.max()) * s.gumbel_c_scale * q

    def _completed_q(
        self,
        v: dict[str, np.ndarray],
        i: int,
        player: int,
        q_sum: np.ndarray,
        q_cnt: np.ndarray,
        legal: np.ndarray,
    ) -> np.ndarray:
        """Q of each root action averaged over worlds, the root value for unvisited actions,
        then min-max rescaled over the legal actions (as Gumbel MuZero does): the score
        differences between actions are small next to the [0, 1] value range, and unscaled they
        would barely move the improved policy away from the prior."""
        kk = self.settings.determinizations
        root_n = v["visits"][i * kk : (i + 1) * kk, 0].sum()
        root_v = v["value"][i * kk : (i + 1) * kk, 0, player].sum()
        fallback = root_v / root_n if root_n > 0 else 0.5
        q = np.divide(q_sum, q_cnt, out=np.zeros(k.NUM_ACTIONS), where=q_cnt > 0)
        q = np.where(q_cnt > 0, q, fallback)
        low, high = q[legal].min(), q[legal].max()
        return (q - low) / max(high - low, 1e-8)


def _gumbel_noise(rs: np.ndarray, legal: np.ndarray) -> np.ndarray:
    g = legal.shape[0]
    out = np.zeros(legal.shape)
    for i in range(g):
        for a in np.flatnonzero(legal[i]):
            out[i, a] = _rng.gumbel(rs, i)
    return out


def uniform_evaluator(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal logits for every action and a value of 0.5 for every seat."""
    b = features.shape[0]
    return np.zeros((b, k.NUM_ACTIONS), np.float32), np.full((b, k.MAX_PLAYERS), 0.5, np.float32)


def search(
    state,
    evaluator: Evaluator,
    settings: SearchSettings,
    *,
    seed: int = 0,
) -> SearchResult:
    """Search one :class:`~blobrl.game.BlobState` (the player to act); a batch of one."""
    engine = BatchedSearch(evaluator, max_games=1, settings=settings)
    states = state.vector[None, :].copy()
    active = np.array([len(state.legal_actions()) > 1])
    return engine.run(states, active, _rng.seed_streams([seed]))
