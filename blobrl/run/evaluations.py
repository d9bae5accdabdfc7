"""Evaluation scheduling: one arena at a time against the best network of its time, and the
gauntlets on their schedule, none of them holding up self-play or training.

After each trained iteration its network is a candidate: its arena starts at once if none is
running; else it waits, and a newer candidate replaces a waiting one (the skipped one is
logged). The arenas a stopped run still owed go first, each candidate read back from its
checkpoint. An arena that fails is played again, up to :data:`ARENA_ATTEMPTS` times. What comes
back is handed to the caller as typed outcomes; the promotion rule is
:func:`blobrl.evaluation.promoted`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from blobrl.evaluation import MatchResult
from blobrl.evaluation.gauntlet import GauntletResult
from blobrl.remote import Call, Remote
from blobrl.run.ports import EvaluatorPort

log = logging.getLogger(__name__)
ARENA_ATTEMPTS = 3  # an arena that fails this many times is given up (the best model stays)


@dataclass(frozen=True)
class ArenaPlayed:
    iteration: int
    weights: bytes  # the candidate's
    result: MatchResult


@dataclass(frozen=True)
class ArenaFailed:
    iteration: int
    error: BaseException
    attempt: int  # how many times it has failed
    given_up: bool  # True once it failed ARENA_ATTEMPTS times: not played again


@dataclass(frozen=True)
class GauntletPlayed:
    iteration: int
    result: GauntletResult


Outcome = ArenaPlayed | ArenaFailed | GauntletPlayed


def summary(exc: BaseException) -> str:
    """The last line of an exception's text (a remote task's error ends with its cause)."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else ""


class EvaluationSchedule:
    """Arenas and gauntlets in flight on the evaluator (None: a run without evaluation).

    ``weights_of(iteration)`` reads a candidate back from its checkpoint (None if it is gone).
    """

    def __init__(
        self,
        evaluator: Any | None,
        *,
        gauntlet_every: int,
        last_iteration: int,
        weights_of: Callable[[int], bytes | None],
    ):
        self.evaluator: Remote[EvaluatorPort] | None = (
            Remote(evaluator) if evaluator is not None else None
        )
        self.gauntlet_every = gauntlet_every
        self.last_iteration = last_iteration
        self.weights_of = weights_of
        self._arena: tuple[int, bytes, Call[MatchResult]] | None = None
        self._waiting: tuple[int, bytes] | None = None
        self._owed: deque[int] = deque()  # arenas a stopped run still owed, oldest first
        self._failures: dict[int, int] = {}  # iteration -> failed attempts of its arena
        self._gauntlets: list[tuple[int, Call[GauntletResult]]] = []

    @property
    def idle(self) -> bool:
        """Nothing running, waiting or owed."""
        return (
            self._arena is None and self._waiting is None and not self._owed and not self._gauntlets
        )

    def owe(self, iterations: list[int]) -> None:
        """The arenas a resumed run still owes (played before any newer one)."""
        if self.evaluator is not None:
            self._owed = deque(iterations)

    def owed(self, *also: int) -> list[int]:
        """Iterations whose arena is due and not played yet (the one running, the one waiting,
        those a resume still owes, and ``also``), ascending."""
        if self.evaluator is None:
            return []
        owed = {*self._owed, *also}
        owed.update(entry[0] for entry in (self._arena, self._waiting) if entry)
        return sorted(owed)

    @property
    def owed_on_resume(self) -> list[int]:
        return list(self._owed)

    def candidate(self, iteration: int, weights: bytes, best: bytes | None) -> None:
        """A newly trained network: its arena against ``best``, and its gauntlet if due."""
        self._start_arena(iteration, weights, best)
        self._start_gauntlet(iteration, weights)

    def _start_arena(self, iteration: int, weights: bytes, best: bytes | None) -> None:
        if self.evaluator is None or best is None:
            return
        if self._arena is not None or self._owed:
            # One arena at a time; the newest candidate waits, older waiting ones are skipped
            # (the arenas a resume owes are not: they go first, see _start_next).
            if self._waiting is not None:
                log.info("arena for iteration %d skipped for a newer one", self._waiting[0])
            self._waiting = (iteration, weights)
            return
        self._play(iteration, weights, best)

    def _play(self, iteration: int, weights: bytes, best: bytes) -> None:
        assert self.evaluator is not None
        pending = self.evaluator.call(EvaluatorPort.arena, weights, best, iteration=iteration)
        self._arena = (iteration, weights, pending)

    def _start_gauntlet(self, iteration: int, weights: bytes) -> None:
        if self.evaluator is None or not self.gauntlet_every:
            return
        if iteration % self.gauntlet_every == 0 or iteration == self.last_iteration:
            pending = self.evaluator.call(EvaluatorPort.gauntlet, weights, iteration=iteration)
            self._gauntlets.append((iteration, pending))

    def _start_next(self, best: bytes | None) -> None:
        """Once no arena is running, start the next one: the oldest a stopped run owed (its
        candidate read back from its checkpoint; one retention removed is skipped), else the
        one waiting. Started here, after the last arena's promotion is recorded, so that each
        candidate plays the best of its time."""
        while self._arena is None and self._owed and best is not None:
            iteration = self._owed.popleft()
            weights = self.weights_of(iteration)
            if weights is None:
                log.warning("arena of iteration %d not played: its checkpoint is gone", iteration)
                continue
            log.info("arena of iteration %d, owed by the stopped run, playing it", iteration)
            self._play(iteration, weights, best)
        if self._arena is None and self._waiting is not None and not self._owed:
            (iteration, weights), self._waiting = self._waiting, None
            self._start_arena(iteration, weights, best)

    def poll(self, best: bytes | None) -> list[Outcome]:
        """What finished since the last poll (never waits); starts the next arena."""
        outcomes: list[Outcome] = []
        for entry in [g for g in self._gauntlets if g[1].done()]:
            self._gauntlets.remove(entry)
            iteration, pending = entry
            try:
                outcomes.append(GauntletPlayed(iteration, pending.result()))
            except Exception as exc:
                log.warning("gauntlet of iteration %d failed: %s", iteration, exc)
        self._start_next(best)
        if self._arena is None or not self._arena[2].done():
            return outcomes
        (iteration, weights, arena), self._arena = self._arena, None
        try:
            outcomes.append(ArenaPlayed(iteration, weights, arena.result()))
        except Exception as exc:
            failures = self._failures.get(iteration, 0) + 1
            self._failures[iteration] = failures
            given_up = failures >= ARENA_ATTEMPTS
            outcomes.append(ArenaFailed(iteration, exc, failures, given_up))
            if not given_up and best is not None:
                self._play(iteration, weights, best)
                self._start_gauntlet(iteration, weights)
        return outcomes


def arenas_owed_at(iteration: int, payload: Mapping[str, Any]) -> list[int]:
    """The iterations whose arena a run owed when it saved the checkpoint of ``iteration``
    (``payload``, as :class:`~blobrl.run.records.RunCheckpoint` stores it): its
    ``arenas_owed``, or for a checkpoint from before that field, every iteration after the last
    one in its arena history, through ``iteration``. (Arenas are played in order, so those
    before the last one were played, or skipped for a newer candidate as a running run does;
    the best they would have faced is not known.)"""
    if payload.get("arenas_owed") is not None:
        return sorted(int(it) for it in payload["arenas_owed"])
    last = max((int(entry["iteration"]) for entry in payload.get("elo_history", [])), default=0)
    return list(range(last + 1, iteration + 1))
