"""Information-set MCTS players.

``ismcts:SIMS`` is the search baseline every trained player is measured against: information-set
MCTS with random rollouts and no network. Given a network (an ``evaluator``), the same search
draws its worlds from a pool weighted by how likely the other seats' bids are under the
network's policy (:mod:`blobrl.mcts.beliefs`) instead of uniformly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from blobrl.game import BlobState
from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.mcts import Evaluator, SearchSettings, ismcts
from blobrl.mcts.information_set import InformationSetSearch


def ismcts_settings(simulations: int, **overrides: object) -> SearchSettings:
    """Settings of an information-set search of ``simulations`` per decision, played for
    strength (the most visited action, no temperature)."""
    return replace(
        SearchSettings(),
        tree="information_set",
        simulations=simulations,
        determinizations=1,
        temperature=0.0,
        final_temperature=0.0,
        dirichlet_weight=0.0,
        **overrides,  # type: ignore[arg-type]
    )


class IsmctsAgent:
    """Plays the most visited root action of an information-set search.

    Each decision's random stream is derived from ``seed`` and what the acting seat knows
    (:func:`~blobrl.mcts.ismcts.state_seed`), so an agent replays the same decision in the same
    situation whatever it decided before. Without an ``evaluator`` the worlds are uniform (the
    baseline); with one they are weighted by the bids (``settings.belief_pool`` worlds).
    """

    def __init__(
        self,
        simulations: int | None = None,
        *,
        settings: SearchSettings | None = None,
        evaluator: Evaluator | None = None,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        if settings is None:
            if simulations is None or simulations < 1:
                raise ValueError(f"simulations must be >= 1, got {simulations}")
            settings = ismcts_settings(simulations)
        self.settings = settings
        self.simulations = settings.simulations
        self.evaluator = evaluator
        self.seed = seed
        self.name = name or f"ismcts:{settings.simulations}"
        self._engine = InformationSetSearch(evaluator, max_games=1, settings=settings)
        self.root_visits = np.zeros(k.NUM_ACTIONS, np.float64)  # of the last decision searched
        self.root_q = np.zeros(k.NUM_ACTIONS, np.float64)

    @property
    def effective_worlds(self) -> float:
        """Effective number of worlds of the last weighted pool (0 before any)."""
        last = self._engine.effective_worlds
        return last[-1] if last else 0.0

    def act(self, state: BlobState) -> int:
        return self.act_batch([state])[0]

    def act_batch(self, states: Sequence[BlobState]) -> list[int]:
        if not states:
            return []
        vectors = np.stack([s.vector for s in states])  # [G, STATE_SIZE]
        g = vectors.shape[0]
        if self._engine.max_games < g:
            self._engine = InformationSetSearch(self.evaluator, max_games=g, settings=self.settings)
        masks = np.zeros((g, k.NUM_ACTIONS), np.bool_)
        for i in range(g):
            k.legal_mask(vectors[i], masks[i])
        active = masks.sum(axis=1) > 1
        rs = _rng.seed_streams([ismcts.state_seed(v, self.seed) for v in vectors])
        result = self._engine.run(vectors, active, rs)
        self.root_visits = result.visits[-1]
        self.root_q = self._engine.root_q[-1]
        scored = np.where(masks, result.policy, -1.0)
        return [int(a) for a in scored.argmax(axis=1)]
