"""The game ledger: which games a run owes, has handed out and has in. Pure, no threads.

A game is identified by (iteration, index); its (N, C) and deal seed come from the run's mix
sampler, so a resumed run plays the same games. The ledger counts each game once however often
it arrives (an actor's answer replayed, a game logged and played again after a crash), and hands
out the games still owed: the ones lost with an actor first, then the current iteration's, then
(while the learner trains) the next one's if it is in the same phase, never further ahead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from blobrl.config import Config
from blobrl.data import GameRecord
from blobrl.selfplay import GameSpec


class GameLedger:
    """What is owed, handed out, and done, for iterations ``trained + 1 .. last_iteration``."""

    def __init__(self, config: Config, *, last_iteration: int):
        self.config = config
        self.sampler = config.game_mix_sampler()
        self.last_iteration = last_iteration
        self.trained = 0  # last iteration whose training is done and checkpointed
        self.done: dict[int, set[int]] = {}  # game indices recorded, per iteration
        self.positions: dict[int, int] = {}  # positions of those games, per iteration
        self.games_played = 0
        self._dispatched: dict[int, int] = {}  # next game index to hand out, per iteration
        self._retry: deque[GameSpec] = deque()  # games lost with an actor, handed out first

    # ---- where the run is -------------------------------------------------------------------
    @property
    def iteration(self) -> int:
        """The first iteration whose games are not all in (``last_iteration + 1`` at the end)."""
        it = self.trained + 1
        while it <= self.last_iteration and self.iteration_complete(it):
            it += 1
        return it

    def iteration_complete(self, iteration: int) -> bool:
        return self.games_in(iteration) >= self.config.phase_at(iteration).games_per_iteration

    def games_in(self, iteration: int) -> int:
        return len(self.done.get(iteration, ()))

    @property
    def games_total(self) -> int:
        """Games of the whole run, through ``last_iteration``."""
        return self.config.games_before(self.last_iteration + 1)

    def trainable(self) -> int | None:
        """The next iteration to train, if all its games are in; else None."""
        nxt = self.trained + 1
        if nxt > self.last_iteration or not self.iteration_complete(nxt):
            return None
        return nxt

    # ---- games in ---------------------------------------------------------------------------
    def is_done(self, spec: GameSpec) -> bool:
        return spec.game_id in self.done.get(spec.iteration, ())

    def record(self, record: GameRecord) -> bool:
        """Count a finished game once: True if it is new, False if it was already in."""
        seen = self.done.setdefault(record.iteration, set())
        if record.game_id in seen:
            return False
        seen.add(record.game_id)
        self.games_played += 1
        it = record.iteration
        self.positions[it] = self.positions.get(it, 0) + record.num_positions
        return True

    def mix(self, iteration: int) -> dict[tuple[int, int], int]:
        """The (N, C) deals of the games in for ``iteration``, counted."""
        counts: dict[tuple[int, int], int] = {}
        for index in self.done.get(iteration, ()):
            deal = self.sampler.draw(iteration, index)
            counts[deal] = counts.get(deal, 0) + 1
        return counts

    # ---- games out --------------------------------------------------------------------------
    def lost(self, specs: Iterable[GameSpec]) -> int:
        """Games handed out and lost (their actor is gone): those not in are handed out again
        first, oldest first. Returns how many."""
        missing = sorted(
            (s for s in specs if not self.is_done(s)), key=lambda s: (s.iteration, s.game_id)
        )
        self._retry.extend(missing)
        return len(missing)

    def next_specs(self, count: int) -> list[GameSpec]:
        """The next ``count`` games to hand out (fewer when nothing more may be played yet)."""
        specs: list[GameSpec] = []
        while self._retry and len(specs) < count:
            spec = self._retry.popleft()
            if not self.is_done(spec):
                specs.append(spec)
        limit = min(self.trained + 2, self.last_iteration)
        # Search settings follow the phase of the iteration now played, so never run ahead
        # into the next phase: every game is searched with its own phase's settings.
        current = self.config.phase_at(min(self.iteration, self.last_iteration))
        while limit > self.trained + 1 and self.config.phase_at(limit) != current:
            limit -= 1
        it = self.trained + 1
        while len(specs) < count and it <= limit:
            total = self.config.phase_at(it).games_per_iteration
            index = self._dispatched.get(it, 0)
            done = self.done.get(it, set())
            while len(specs) < count and index < total:
                if index not in done:
                    n, c = self.sampler.draw(it, index)
                    specs.append(GameSpec(n, c, self.sampler.deal_seed(it, index), index, it))
                index += 1
            self._dispatched[it] = index
            it += 1
        return specs
