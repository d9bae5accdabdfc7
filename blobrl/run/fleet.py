"""The self-play fleet: the actors that play the games, what each holds, and their health.

The fleet never waits on an actor: every question (submit, collect, status) is asked without
waiting and read once answered, so a slow or unscheduled actor simply gets no more games until
it answers. What an actor holds is counted from the fleet's own books (games handed out and not
yet back), so late answers can never make it look busier than it is; when an actor is lost,
its unfinished games go back to the :class:`~blobrl.run.ledger.GameLedger` to be played by
another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from blobrl.data import GameRecord
from blobrl.mcts import SearchSettings
from blobrl.remote import Call, Remote, kill, share
from blobrl.run.ledger import GameLedger
from blobrl.run.ports import SelfPlayPort
from blobrl.selfplay import GameSpec, SelfPlayStatus

log = logging.getLogger(__name__)

# ``on_lost(name, error, games)``: an actor is gone, ``games`` of its games go elsewhere.
LostCallback = Callable[[str, BaseException, int], None]


@dataclass
class FleetActor:
    """The fleet's view of one self-play actor."""

    remote: Remote[SelfPlayPort]
    name: str
    # Games handed out and not yet back (waiting or in flight): what a lost actor loses.
    assigned: dict[tuple[int, int], GameSpec] = field(default_factory=dict)
    collecting: Call[list[GameRecord]] | None = None
    submitting: Call[int] | None = None
    alive: bool = True


class SelfPlayFleet:
    """The self-play actors of a run.

    ``spawn(index)`` starts actor number ``index`` (None: the fleet never grows); ``on_lost`` is
    told of every actor lost.
    """

    def __init__(
        self,
        handles: list[Any],
        *,
        spawn: Callable[[int], Any] | None = None,
        on_lost: LostCallback | None = None,
    ):
        self.actors = [FleetActor(Remote(h), f"selfplay-{i}") for i, h in enumerate(handles)]
        self.spawn = spawn
        self.on_lost = on_lost
        self._spawned = len(self.actors) - 1  # number of the last actor started
        self._pause_checks: list[Call[SelfPlayStatus]] = []
        self._stats_calls: list[Call[SelfPlayStatus]] = []
        self._stats: list[SelfPlayStatus] = []
        # What every actor has been told, so that one started later is told the same.
        self._weights: tuple[bytes, int] | None = None
        self._settings: SearchSettings | None = None
        self._paused = False

    @property
    def live(self) -> list[FleetActor]:
        return [a for a in self.actors if a.alive]

    @property
    def handles(self) -> list[Any]:
        """The raw handles of the actors now in use."""
        return [a.remote.handle for a in self.live]

    def __len__(self) -> int:
        return len(self.live)

    # ---- broadcasts -------------------------------------------------------------------------
    def pause(self) -> None:
        self._paused = True
        for actor in self.live:
            actor.remote.call(SelfPlayPort.pause)

    def resume(self) -> None:
        self._paused = False
        for actor in self.live:
            actor.remote.call(SelfPlayPort.resume)

    def set_settings(self, settings: SearchSettings) -> None:
        self._settings = settings
        for actor in self.live:
            actor.remote.call(SelfPlayPort.set_settings, settings)

    def set_weights(self, weights: bytes, version: int, *, shared: Any = None) -> None:
        """Send ``weights`` to every actor (``shared``: as :func:`blobrl.remote.share` made them
        for the fleet and whoever else gets them, so they travel once)."""
        self._weights = (weights, version)
        shared = share(weights, self.handles) if shared is None else shared
        for actor in self.live:
            actor.remote.call(SelfPlayPort.set_weights, shared, version)

    def _bring_up(self, actor: FleetActor) -> None:
        """Tell an actor started late what the others were told."""
        if self._weights is not None:
            weights, version = self._weights
            shared = share(weights, [actor.remote])
            actor.remote.call(SelfPlayPort.set_weights, shared, version)
        if self._settings is not None:
            actor.remote.call(SelfPlayPort.set_settings, self._settings)
        if self._paused:
            actor.remote.call(SelfPlayPort.pause)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every actor to stop and wait for each (a late one is logged, not waited for)."""
        stops = [(a, a.remote.call(SelfPlayPort.stop)) for a in self.live]
        for actor, pending in stops:
            try:
                pending.result(timeout=timeout)
            except Exception as exc:
                log.warning("%s did not stop cleanly: %s", actor.name, exc)

    # ---- games out and in -------------------------------------------------------------------
    def top_up(self, ledger: GameLedger, in_flight: int) -> None:
        """Keep each actor supplied: its ``in_flight`` games plus as many again waiting."""
        for actor in self.live:
            pending = actor.submitting
            if pending is not None:
                if not pending.done():
                    continue
                actor.submitting = None
                try:
                    pending.result()
                except Exception as exc:
                    self.lost(actor, exc, ledger)
                    continue
            held = len(actor.assigned)
            if held > in_flight + in_flight // 2:
                continue
            specs = ledger.next_specs(2 * in_flight - held)
            if specs:
                for spec in specs:
                    actor.assigned[(spec.iteration, spec.game_id)] = spec
                actor.submitting = actor.remote.call(SelfPlayPort.submit, specs)

    def collect(self, ledger: GameLedger, *, final: bool = False) -> list[GameRecord]:
        """Finished games from every actor that has answered (``final``: from every actor,
        waiting a few seconds for each). Duplicates are left for the ledger to drop."""
        records: list[GameRecord] = []
        for actor in self.live:
            if actor.collecting is None:
                actor.collecting = actor.remote.call(SelfPlayPort.collect)
            if not (final or actor.collecting.done()):
                continue
            pending, actor.collecting = actor.collecting, None
            try:
                got = pending.result(timeout=5 if final else None)
            except Exception as exc:
                self.lost(actor, exc, ledger)
                continue
            for record in got:
                actor.assigned.pop((record.iteration, record.game_id), None)
            records.extend(got)
        return records

    # ---- health -----------------------------------------------------------------------------
    def lost(self, actor: FleetActor, exc: BaseException, ledger: GameLedger) -> None:
        """An actor (or its node) is gone: its unfinished games go back to the ledger."""
        if not actor.alive:
            return
        actor.alive = False
        games = ledger.lost(actor.assigned.values())
        actor.assigned.clear()
        if self.on_lost is not None:
            self.on_lost(actor.name, exc, games)
        kill(actor.remote)

    def grow(self, want: int) -> list[str]:
        """Drop lost actors from the books and start new ones until ``want`` are alive, each
        given the weights, settings and pause the others have. Returns the names started."""
        self.actors = self.live
        started = []
        while self.spawn is not None and len(self.actors) < want:
            self._spawned += 1
            try:
                handle = self.spawn(self._spawned)
            except Exception as exc:
                log.warning("could not start a self-play actor: %s", exc)
                break
            actor = FleetActor(Remote(handle), f"selfplay-{self._spawned}")
            self.actors.append(actor)
            self._bring_up(actor)
            started.append(actor.name)
            log.info("added %s (%d self-play actors)", actor.name, len(self.actors))
        return started

    def all_paused(self) -> bool:
        """Whether every actor has reported that it holds its games (asked without waiting:
        False until the answers are in)."""
        if not self._pause_checks:
            self._pause_checks = [a.remote.call(SelfPlayPort.status) for a in self.live]
            return False
        if not all(c.done() for c in self._pause_checks):
            return False
        checks, self._pause_checks = self._pause_checks, []
        for check in checks:
            try:
                if not check.result().paused:
                    return False
            except Exception:
                continue  # a lost actor holds no games; the health check replaces it
        return True

    def stats(self) -> list[SelfPlayStatus]:
        """The last answers of the actors' status calls (asked again without waiting)."""
        if self._stats_calls and all(c.done() for c in self._stats_calls):
            answers = []
            for c in self._stats_calls:
                try:
                    answers.append(c.result())
                except Exception:
                    log.debug("self-play status failed", exc_info=True)
            self._stats = answers
            self._stats_calls = []
        if not self._stats_calls:
            self._stats_calls = [a.remote.call(SelfPlayPort.status) for a in self.live]
        return self._stats
