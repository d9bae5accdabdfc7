"""SelfPlayWorker: plays many hands at once with batched search and returns typed records.

Plain Python, no Ray: the SelfPlayActor is a thin shell over it, and tests drive it directly with
fake evaluators. All games in flight take their decisions in lock-step so that every leaf of
every tree of every game is evaluated in one evaluator call; when a game ends its slot is
refilled from the queue at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from blobrl.game import core as k
from blobrl.game import new_game
from blobrl.game import rng as _rng
from blobrl.game.encoding import FEATURES, encode_batch
from blobrl.mcts import Evaluator, SearchSettings, make_search, sample_actions
from blobrl.replay.codec import pack_features
from blobrl.selfplay.records import GameRecord


@dataclass(frozen=True)
class GameSpec:
    """One hand to play: the deal is reproducible from (players, cards, seed)."""

    num_players: int
    num_cards: int
    seed: int
    game_id: int = 0
    iteration: int = 0


@dataclass
class WorkerStats:
    """Counters since the worker was made (seconds are wall-clock)."""

    games: int = 0
    positions: int = 0
    decisions: int = 0
    evaluations: int = 0
    eval_seconds: float = 0.0
    total_seconds: float = 0.0  # of plays that have ended
    playing_since: float | None = None  # perf_counter() when the play going on began

    def seconds(self) -> float:
        """Seconds spent playing, the play going on included."""
        running = 0.0 if self.playing_since is None else time.perf_counter() - self.playing_since
        return self.total_seconds + running

    @property
    def eval_fraction(self) -> float:
        """Share of self-play time spent waiting for network evaluations."""
        seconds = self.seconds()
        return self.eval_seconds / seconds if seconds > 0 else 0.0


@dataclass
class _Slot:
    spec: GameSpec
    version: int
    players: list[int] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    legal: list[np.ndarray] = field(default_factory=list)
    policy: list[np.ndarray] = field(default_factory=list)


class SpecSource:
    """Where a worker takes its next games from: a queue that may be empty for a while."""

    def take(self) -> GameSpec | None:
        """The next game to start, or None if none is available right now."""
        raise NotImplementedError

    def exhausted(self) -> bool:
        """True once no game will ever be available again."""
        raise NotImplementedError

    def wait(self, timeout: float) -> None:
        """Block up to ``timeout`` seconds for a game to become available."""
        time.sleep(timeout)


class _IterSource(SpecSource):
    def __init__(self, it: Iterator[GameSpec]):
        self._it = it
        self._done = False

    def take(self) -> GameSpec | None:
        spec = next(self._it, None)
        self._done = spec is None
        return spec

    def exhausted(self) -> bool:
        return self._done


class SelfPlayWorker:
    """Plays hands with determinized search and yields :class:`GameRecord` s."""

    def __init__(
        self,
        evaluator: Evaluator,
        *,
        settings: SearchSettings,
        games_in_flight: int = 128,
        trump_mode: str = "rotation",
        scoring: str = "blob",
        weight_version: Callable[[], int] | None = None,
    ):
        self.stats = WorkerStats()
        self._evaluator = evaluator
        self.games_in_flight = games_in_flight
        self.trump_mode = trump_mode
        self.scoring = scoring
        self._weight_version = weight_version or (lambda: int(getattr(evaluator, "version", 0)))
        self.search = make_search(self._timed_eval, max_games=games_in_flight, settings=settings)

    @property
    def settings(self) -> SearchSettings:
        return self.search.settings

    def set_settings(self, settings: SearchSettings) -> None:
        if settings.tree != self.search.settings.tree:
            self.search = make_search(
                self._timed_eval, max_games=self.games_in_flight, settings=settings
            )
        else:
            self.search.set_settings(settings)

    def _timed_eval(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        out = self._evaluator(features)
        self.stats.eval_seconds += time.perf_counter() - start
        self.stats.evaluations += features.shape[0]
        return out

    def play(
        self, specs: Iterable[GameSpec], *, should_stop: Callable[[], bool] | None = None
    ) -> list[GameRecord]:
        """Play every spec to the end and return the records (in order of completion)."""
        return list(self.play_iter(specs, should_stop=should_stop))

    def play_iter(
        self,
        specs: Iterable[GameSpec] | SpecSource,
        *,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[GameRecord]:
        """Yield each record as its game ends.

        ``specs`` is a finite iterable, or a :class:`SpecSource` that hands out games as they
        become available and says when there will be no more. ``should_stop`` is polled between
        decisions (a natural place to swap weights or hold for a pause); when it returns True no
        new game is started and the games in flight are abandoned.
        """
        source = specs if isinstance(specs, SpecSource) else _IterSource(iter(specs))
        self.stats.playing_since = time.perf_counter()
        try:
            yield from self._run(source, should_stop or (lambda: False))
        finally:
            self.stats.total_seconds = self.stats.seconds()
            self.stats.playing_since = None

    def _run(self, source: SpecSource, should_stop: Callable[[], bool]):
        g = self.games_in_flight
        states = np.zeros((g, k.STATE_SIZE), np.int64)
        rs = np.zeros(g, np.uint64)
        slots: list[_Slot | None] = [None] * g
        features = np.zeros((g, FEATURES), np.float32)
        legal = np.zeros((g, k.NUM_ACTIONS), np.bool_)
        buf = np.empty(k.NUM_ACTIONS, np.int64)
        chosen = np.zeros(g, np.int64)
        while True:
            stopping = should_stop()
            for i in range(g):
                while True:
                    slot = slots[i]
                    if slot is None:
                        spec = None if stopping else source.take()
                        if spec is None:
                            break
                        slot = slots[i] = self._start(spec, states, rs, i)
                    # Forced moves (a single legal action) are played without search.
                    while (
                        states[i, k.F_PHASE] != k.PHASE_TERMINAL
                        and k.legal_actions(states[i], buf) == 1
                    ):
                        k.apply_unchecked(states[i], buf[0])
                    if states[i, k.F_PHASE] != k.PHASE_TERMINAL:
                        break
                    yield self._finish(slot, states[i])
                    slots[i] = None
            active = np.array([s is not None for s in slots])
            if stopping:
                return
            if not active.any():
                if source.exhausted():
                    return
                source.wait(0.05)
                continue
            result = self.search.run(states, active, rs)
            idx = np.flatnonzero(active)
            encode_batch(states[idx], states[idx, k.F_PLAYER], features, legal)
            temps = np.array(
                [self.settings.temperature_at(int(states[i, k.F_HISTLEN])) for i in range(g)]
            )
            weights = result.visits if self.settings.plays_visits else result.policy
            sample_actions(weights.astype(np.float64), temps, active, rs, chosen)
            for row, i in enumerate(idx.tolist()):
                slot = slots[i]
                assert slot is not None
                slot.players.append(int(states[i, k.F_PLAYER]))
                slot.features.append(features[row].copy())
                slot.legal.append(legal[row].copy())
                slot.policy.append(result.policy[i].copy())
                k.apply_unchecked(states[i], int(chosen[i]))
            self.stats.decisions += int(active.sum())

    def _start(self, spec: GameSpec, states: np.ndarray, rs: np.ndarray, i: int) -> _Slot:
        game = new_game(
            spec.num_players,
            spec.num_cards,
            seed=spec.seed,
            trump_mode=self.trump_mode,
            scoring=self.scoring,
        )
        states[i] = game.vector
        rs[i] = _rng.seed_streams([spec.seed])[0]
        return _Slot(spec=spec, version=self._weight_version())

    def _finish(self, slot: _Slot, state: np.ndarray) -> GameRecord:
        spec = slot.spec
        n = spec.num_players
        scores = np.zeros(k.MAX_PLAYERS, np.float64)
        k.scores(state, scores)
        t = len(slot.players)
        feats = np.stack(slot.features) if t else np.zeros((0, FEATURES), np.float32)
        bits, cont = pack_features(feats)
        record = GameRecord(
            seed=spec.seed,
            num_players=n,
            num_cards=spec.num_cards,
            weight_version=slot.version,
            determinizations=self.settings.determinizations,
            simulations=self.settings.simulations,
            actions=state[k.F_HIST : k.F_HIST + state[k.F_HISTLEN]].astype(np.int16),
            players=np.array(slot.players, np.int8),
            feature_bits=bits,
            feature_cont=cont,
            legal=np.stack(slot.legal) if t else np.zeros((0, k.NUM_ACTIONS), np.bool_),
            policy=(
                np.stack(slot.policy).astype(np.float16)
                if t
                else np.zeros((0, k.NUM_ACTIONS), np.float16)
            ),
            scores=scores[:n].astype(np.float32),
            iteration=spec.iteration,
            game_id=spec.game_id,
            tricks=state[k.F_TRICKS : k.F_TRICKS + n].astype(np.int8),
        )
        self.stats.games += 1
        self.stats.positions += t
        return record
