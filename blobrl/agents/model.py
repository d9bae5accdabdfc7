"""A trained network as a player: its raw policy, or determinized search guided by it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from blobrl.game import FEATURES, NUM_ACTIONS, BlobState
from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.game.encoding import encode_batch
from blobrl.mcts import (
    BatchedSearch,
    Evaluator,
    InformationSetSearch,
    SearchResult,
    SearchSettings,
    ismcts,
    make_search,
)


def play_settings(determinizations: int, simulations: int, **overrides: object) -> SearchSettings:
    """Search settings for strength, not exploration: no root noise, the most visited action
    (PUCT) or the argmax of the improved policy (Gumbel)."""
    return replace(
        SearchSettings(determinizations=determinizations, simulations=simulations),
        dirichlet_weight=0.0,
        temperature=0.0,
        final_temperature=0.0,
        **overrides,  # type: ignore[arg-type]
    )


class ModelAgent:
    """Plays a network.

    With ``settings=None`` it plays the argmax of the masked policy of the acting seat's
    information state; otherwise it searches each decision with ``settings`` (determinized worlds
    dealt from the acting seat's view only) and plays the most visited action: K network-guided
    trees (``tree: worlds``) or one information-set tree with bid-weighted worlds
    (``tree: information_set``, each decision seeded from the situation). ``act_batch`` decides
    many games in one batched search.
    """

    def __init__(
        self,
        evaluator: Evaluator | None,
        *,
        settings: SearchSettings | None = None,
        seed: int = 0,
        name: str = "model",
    ) -> None:
        self.evaluator = evaluator
        self.settings = settings
        self.seed = seed
        self.name = name
        self._engine: BatchedSearch | InformationSetSearch | None = None
        self._decisions = 0  # streams of later batches differ from earlier ones
        self.last_result: SearchResult | None = None  # of the last batch searched

    def act(self, state: BlobState) -> int:
        return self.act_batch([state])[0]

    def act_batch(self, states: Sequence[BlobState]) -> list[int]:
        if not states:
            return []
        vectors = np.stack([s.vector for s in states])  # [G, STATE_SIZE]
        if self.settings is None:
            return self._policy_argmax(vectors)
        return self._search(vectors)

    def _policy_argmax(self, vectors: np.ndarray) -> list[int]:
        g = vectors.shape[0]
        features = np.zeros((g, FEATURES), np.float32)
        masks = np.zeros((g, NUM_ACTIONS), np.bool_)
        encode_batch(vectors, vectors[:, k.F_PLAYER].copy(), features, masks)
        assert self.evaluator is not None, "a raw-policy agent needs a network"
        logits, _ = self.evaluator(features)
        masked = np.where(masks, np.asarray(logits, np.float64), -np.inf)
        return [int(a) for a in masked.argmax(axis=1)]

    def _search(self, vectors: np.ndarray) -> list[int]:
        assert self.settings is not None
        g = vectors.shape[0]
        information_set = self.settings.tree == "information_set"
        if self._engine is None or self._engine.max_games < g:
            self._engine = make_search(self.evaluator, max_games=g, settings=self.settings)
        masks = np.zeros((g, NUM_ACTIONS), np.bool_)
        for i in range(g):
            k.legal_mask(vectors[i], masks[i])
        active = masks.sum(axis=1) > 1
        if information_set:
            seeds = [ismcts.state_seed(v, self.seed) for v in vectors]
        else:
            seeds = [self.seed * 1_000_003 + self._decisions + i for i in range(g)]
        self._decisions += g
        result = self.last_result = self._engine.run(vectors, active, _rng.seed_streams(seeds))
        weights = result.visits if self.settings.plays_visits else result.policy
        # visits break ties by the prior order of argmax; illegal actions never win
        scored = np.where(masks, np.asarray(weights, np.float64), -1.0)
        return [int(a) for a in scored.argmax(axis=1)]
