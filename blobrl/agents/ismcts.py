"""Information-set MCTS players.

``ismcts:SIMS`` is the search baseline every trained player is measured against: information-set
MCTS with random rollouts and no network. Given a network (an ``evaluator``), the same search
draws its worlds from a pool weighted by how likely the other seats' bids are under the
network's policy (:mod:`blobrl.mcts.beliefs`) instead of uniformly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from blobrl.agents.model import ModelAgent
from blobrl.mcts import Evaluator, InformationSetSearch, SearchSettings


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


class IsmctsAgent(ModelAgent):
    """A :class:`ModelAgent` over an information-set search, with or without a network.

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
        if settings.tree != "information_set":
            raise ValueError(f"an IsmctsAgent searches information sets, got tree={settings.tree}")
        super().__init__(
            evaluator, settings=settings, seed=seed, name=name or f"ismcts:{settings.simulations}"
        )
        self.simulations = settings.simulations

    @property
    def root_visits(self) -> np.ndarray:
        """float64[65]: root visits of the last decision searched."""
        assert self.last_result is not None, "no decision searched yet"
        return self.last_result.visits[-1]

    @property
    def root_q(self) -> np.ndarray:
        """float64[65]: mean root reward of each action of the last decision searched."""
        assert isinstance(self._engine, InformationSetSearch), "no decision searched yet"
        return self._engine.root_q[-1]

    @property
    def effective_worlds(self) -> float:
        """Effective number of worlds of the last weighted pool (0 before any)."""
        if not isinstance(self._engine, InformationSetSearch):
            return 0.0
        last = self._engine.effective_worlds
        return last[-1] if last else 0.0
