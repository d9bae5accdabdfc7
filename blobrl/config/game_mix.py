"""Which deal size each self-play game uses, reproducibly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blobrl.config.sections import GameMixEntry

# Distinct streams of the run seed, so the mix and the deals never share random numbers.
_MIX_STREAM = 0x6D6978
_DEAL_STREAM = 0x6465616C


class GameMixSampler:
    """Draws (players, cards) from the game mix.

    Each draw is a pure function of (seed, iteration, game index): a resumed run, or games handed
    out in a different order or over a different number of actors, get the same deal sizes.
    """

    def __init__(self, mix: Sequence[GameMixEntry], *, seed: int) -> None:
        if not mix:
            raise ValueError("the game mix is empty")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.seed = int(seed)
        self.deals: tuple[tuple[int, int], ...] = tuple(e.deal for e in mix)
        weights = np.array([e.weight for e in mix], np.float64)
        self.probabilities = weights / weights.sum()  # [K]
        self._cdf = np.cumsum(self.probabilities)  # [K]

    def _rng(self, stream: int, iteration: int, game_index: int) -> np.random.Generator:
        if iteration < 0 or game_index < 0:
            raise ValueError(
                f"iteration and game index must be >= 0, got {iteration}, {game_index}"
            )
        return np.random.default_rng([stream, self.seed, int(iteration), int(game_index)])

    def draw(self, iteration: int, game_index: int) -> tuple[int, int]:
        """(players, cards) of game ``game_index`` (0-based) of ``iteration``."""
        u = self._rng(_MIX_STREAM, iteration, game_index).random()
        k = min(int(np.searchsorted(self._cdf, u, side="right")), len(self.deals) - 1)
        return self.deals[k]

    def draw_many(self, iteration: int, *, start: int = 0, count: int) -> list[tuple[int, int]]:
        """:meth:`draw` for games ``start`` .. ``start + count - 1`` of ``iteration``."""
        return [self.draw(iteration, i) for i in range(start, start + count)]

    def deal_seed(self, iteration: int, game_index: int) -> int:
        """Seed of the shuffle of that game (``GameRecord.seed``), from its own stream."""
        return int(self._rng(_DEAL_STREAM, iteration, game_index).integers(2**63))
