"""SelfPlayWorker: plays many hands at once with batched search and returns typed records.

Plain Python, no Ray: the SelfPlayActor is a thin shell over it, and tests drive it directly with
fake evaluators. The games in flight form ``game_groups`` groups of ``games_in_flight``; the
games of a group take their decisions in lock-step so that every leaf of every tree of every game
of the group is evaluated in one evaluator call; when a game ends its slot is refilled from the
queue at once.

With one group (the default, and what a network inside the actor wants) the search runs in the
calling thread and calls its evaluator. With several, the calling thread still runs every
search, each as a generator of its leaf batches (:meth:`~blobrl.mcts.BatchedSearch.steps`): it
sends one group's batch and searches another's tree while the first is being evaluated (a round
trip to a remote InferenceServer), taking up whichever group's answer comes in first. An
evaluator that can send without waiting (:attr:`InferenceClient.asynchronous
<blobrl.inference.InferenceClient.asynchronous>`) is used as it is, and the thread takes in the
answers itself, once between searches and when it waits (``InferenceClient.polling``, so that a
shared-memory channel's reader thread does not wake for them); any other is called in a thread
of its own per batch. A game's moves depend only on its seed and the evaluator's answers
for its rows, never on which group or slot it is in, so the groups change the timing of games and
never their records (except under the Gumbel root, whose phases run as many rounds as the game
of the batch that needs the most: a Gumbel game depends on the other games of its batch, with
one group or several).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np

from blobrl.data import GameRecord, pack_features
from blobrl.game import core as k
from blobrl.game import new_game
from blobrl.game import rng as _rng
from blobrl.game.encoding import FEATURES, encode_batch
from blobrl.mcts import Evaluator, SearchResult, SearchSettings, make_search, sample_actions
from blobrl.mcts.search import Answer, LeafRows, PackedEvaluator, SearchSteps, evaluate


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
    groups: int = 1  # game groups searching side by side (eval_seconds sums their waits)

    def seconds(self) -> float:
        """Seconds spent playing, the play going on included."""
        running = 0.0 if self.playing_since is None else time.perf_counter() - self.playing_since
        return self.total_seconds + running

    @property
    def eval_fraction(self) -> float:
        """Share of self-play time spent waiting for network evaluations (with several game
        groups, each group's share, averaged over the groups)."""
        seconds = self.seconds() * self.groups
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


class _Evaluation(Protocol):
    """One group's leaf batch being evaluated: ``futures`` are done when its answer may be in
    (or by ``deadline``, when the evaluator wants another look); :meth:`poll` gives the answer,
    or None while there is none yet; :meth:`release` says the answer has been read (it may lie
    in a shared-memory channel's slot until then); :meth:`cancel` gives it up (what it holds is
    freed). :meth:`refresh` takes in the answers that came (for every evaluation of its
    evaluator), so that the futures show them, and :meth:`wait` waits for one of the futures of
    such evaluations."""

    futures: list[Future[Any]]
    deadline: float

    def poll(self) -> Answer | None: ...

    def refresh(self) -> None: ...

    def wait(self, futures: list[Future[Any]], timeout_s: float | None) -> None: ...

    def release(self) -> None: ...

    def cancel(self) -> None: ...


class _InThread:
    """An :class:`_Evaluation` by a blocking evaluator, called in a pool thread."""

    deadline = math.inf

    def __init__(self, future: Future[Answer]) -> None:
        self.futures = [future]

    def poll(self) -> Answer | None:
        future = self.futures[0]
        return future.result() if future.done() else None

    def refresh(self) -> None:
        pass

    def wait(self, futures: list[Future[Any]], timeout_s: float | None) -> None:
        wait(futures, timeout_s, FIRST_COMPLETED)

    def release(self) -> None:
        pass

    def cancel(self) -> None:
        self.futures[0].cancel()  # a call already running finishes, unread


class _TimedEvaluator:
    """A group's evaluator: adds the rows it sends and the seconds each evaluation takes to
    the worker's stats."""

    def __init__(self, evaluator: Evaluator, stats: WorkerStats):
        self.evaluator = evaluator
        self.stats = stats

    @property
    def rollout_weights(self) -> np.ndarray | None:
        """The learned rollout rule of the network behind the evaluator (None: greedy)."""
        return getattr(self.evaluator, "rollout_weights", None)

    @property
    def packed_rows(self) -> PackedEvaluator | None:
        """The evaluator's ``packed_rows`` (rows in wire form), timed the same way; None when
        it has none (the search then writes float rows)."""
        inner = getattr(self.evaluator, "packed_rows", None)
        return None if inner is None else partial(self._timed, inner)

    @property
    def row_buffers(self) -> Callable[[int], tuple[np.ndarray, np.ndarray] | None] | None:
        """The evaluator's ``row_buffers`` (memory it sends rows from without a copy), if any."""
        return getattr(self.evaluator, "row_buffers", None)

    def __call__(self, features: np.ndarray) -> Answer:
        return self._timed(self.evaluator, features)

    def _timed(self, evaluate: Callable[..., Answer], *rows: np.ndarray) -> Answer:
        start = time.perf_counter()
        out = evaluate(*rows)
        self.stats.eval_seconds += time.perf_counter() - start
        self.stats.evaluations += rows[0].shape[0]
        return out

    def start(self, rows: LeafRows, pool: ThreadPoolExecutor) -> _Evaluation:
        """Begin evaluating ``rows`` without waiting: through the evaluator's own ``start``
        when it has one that works here, else a call in one of ``pool``'s threads."""
        self.stats.evaluations += rows[0].shape[0]
        if getattr(self.evaluator, "asynchronous", False):
            return self.evaluator.start(rows)  # type: ignore[attr-defined]
        return _InThread(pool.submit(evaluate, self.evaluator, rows))


class _Group:
    """Up to ``size`` games that take their decisions together, through a search of their own.

    ``busy`` while its search runs (``steps``, the search as a generator, when there are
    several groups); its games are touched only in between.
    """

    def __init__(self, evaluator: _TimedEvaluator, *, size: int, settings: SearchSettings):
        self.evaluator = evaluator
        self.search = make_search(self.evaluator, max_games=size, settings=settings)
        self.busy = False
        self.steps: SearchSteps | None = None  # the search under way (several groups)
        self.sent_at = 0.0  # perf_counter() when its leaf batch went to be evaluated
        self.reset(size)

    def reset(self, size: int) -> None:
        """Empty slots for a new play."""
        self.states = np.zeros((size, k.STATE_SIZE), np.int64)  # [G, STATE_SIZE]
        self.rs = np.zeros(size, np.uint64)  # [G] per-game random streams
        self.slots: list[_Slot | None] = [None] * size
        self.active = np.zeros(size, np.bool_)  # [G] games with a decision to search
        self.features = np.zeros((size, FEATURES), np.float32)  # [G, FEATURES]
        self.legal = np.zeros((size, k.NUM_ACTIONS), np.bool_)  # [G, 65]
        self.chosen = np.zeros(size, np.int64)  # [G] the move drawn for each game
        self.buf = np.empty(k.NUM_ACTIONS, np.int64)

    def decide(self) -> SearchResult:
        """Search the decision of every active game."""
        return self.search.run(self.states, self.active, self.rs)


def _ready(evaluation: _Evaluation, now: float) -> bool:
    """Whether ``evaluation`` may have its answer: its futures done, or its deadline passed."""
    return now >= evaluation.deadline or all(f.done() for f in evaluation.futures)


def _wait_any(evaluations: list[_Evaluation], timeout_s: float) -> None:
    """Until one of ``evaluations`` (all of one evaluator) may have its answer, or
    ``timeout_s``; the answers that came are taken in first."""
    evaluations[0].refresh()
    now = time.monotonic()
    if any(_ready(e, now) for e in evaluations):
        return
    timeout_s = min([timeout_s, *(e.deadline - now for e in evaluations)])
    undone = [f for e in evaluations for f in e.futures if not f.done()]
    if timeout_s > 0 and undone:
        evaluations[0].wait(undone, None if math.isinf(timeout_s) else timeout_s)


class SelfPlayWorker:
    """Plays hands with determinized search and yields :class:`GameRecord` s.

    ``games_in_flight`` games per group, ``game_groups`` groups (see the module doc): several
    groups hide the evaluator's latency when it is a round trip to another process.
    """

    def __init__(
        self,
        evaluator: Evaluator,
        *,
        settings: SearchSettings,
        games_in_flight: int = 128,
        game_groups: int = 1,
        trump_mode: str = "rotation",
        scoring: str = "blob",
        weight_version: Callable[[], int] | None = None,
    ):
        if game_groups < 1:
            raise ValueError(f"game_groups must be >= 1, got {game_groups}")
        self.stats = WorkerStats(groups=game_groups)
        self._evaluator = evaluator
        self.games_in_flight = games_in_flight
        self.game_groups = game_groups
        self.trump_mode = trump_mode
        self.scoring = scoring
        self._weight_version = weight_version or (lambda: int(getattr(evaluator, "version", 0)))
        self._settings = settings
        self._groups = [self._new_group() for _ in range(game_groups)]

    @property
    def settings(self) -> SearchSettings:
        return self._settings

    @property
    def search(self):
        """The first group's search (the only one with one group)."""
        return self._groups[0].search

    def set_settings(self, settings: SearchSettings) -> None:
        """Search with ``settings`` from each group's next decision on."""
        self._settings = settings
        for group in self._groups:
            if not group.busy:
                self._sync(group)

    def _new_group(self) -> _Group:
        evaluator = _TimedEvaluator(self._evaluator, self.stats)
        return _Group(evaluator, size=self.games_in_flight, settings=self._settings)

    def _sync(self, group: _Group) -> None:
        """Bring an idle group's search to the current settings."""
        settings = self._settings
        if group.search.settings is settings:
            return
        if settings.tree != group.search.settings.tree:
            group.search = make_search(
                group.evaluator, max_games=group.search.max_games, settings=settings
            )
        else:
            group.search.set_settings(settings)

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
        decisions (a natural place to swap weights or hold for a pause), in the thread that
        iterates, with several groups before each group's next decision while the others may be
        searching; when it returns True no new game is started and the games in flight are
        abandoned.
        """
        source = specs if isinstance(specs, SpecSource) else _IterSource(iter(specs))
        self.stats.playing_since = time.perf_counter()
        try:
            yield from self._run(source, should_stop or (lambda: False))
        finally:
            self.stats.total_seconds = self.stats.seconds()
            self.stats.playing_since = None

    def _run(self, source: SpecSource, should_stop: Callable[[], bool]):
        for i, group in enumerate(self._groups):
            if group.search.max_games < self.games_in_flight:
                group = self._groups[i] = self._new_group()
            group.reset(self.games_in_flight)
        if len(self._groups) == 1:
            yield from self._run_one(self._groups[0], source, should_stop)
        else:
            yield from self._run_groups(source, should_stop)

    def _run_one(self, group: _Group, source: SpecSource, should_stop: Callable[[], bool]):
        """One group, searched in this thread."""
        while True:
            stopping = should_stop()
            self._sync(group)
            yield from self._refill(group, source, stopping)
            if stopping:
                return
            if not group.active.any():
                if source.exhausted():
                    return
                source.wait(0.05)
                continue
            self._advance(group, group.decide())

    def _run_groups(self, source: SpecSource, should_stop: Callable[[], bool]):
        """Several groups, their searches run in turn in this thread: each search goes until
        it has a leaf batch to evaluate, and the next one is taken up while that batch is out;
        whichever group's answer comes in first goes on first."""
        groups = list(self._groups)
        pool = ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="selfplay-eval")
        waiting: dict[_Group, _Evaluation] = {}  # in the order their batches went out
        ready: deque[_Group] = deque(groups)
        idle: list[_Group] = []  # no game to play for now
        polling = getattr(self._evaluator, "polling", None)  # this thread takes in the answers
        try:
            with polling() if polling is not None else nullcontext():
                yield from self._play_groups(source, should_stop, pool, waiting, ready, idle)
        finally:
            # A group still waiting (its answer lost or late) is dropped with its search and
            # replaced, so that a later play never shares its arrays with the late answer.
            for group, evaluation in waiting.items():
                evaluation.cancel()
                self._groups[self._groups.index(group)] = self._new_group()
            pool.shutdown(wait=False, cancel_futures=True)

    def _play_groups(
        self,
        source: SpecSource,
        should_stop: Callable[[], bool],
        pool: ThreadPoolExecutor,
        waiting: dict[_Group, _Evaluation],
        ready: deque[_Group],
        idle: list[_Group],
    ) -> Iterator[GameRecord]:
        """:meth:`_run_groups`' loop: search the ``ready`` groups in turn, each to its next leaf
        batch (into ``waiting``), then take up those whose answers came."""
        while True:
            while ready:
                group = ready.popleft()
                stopping = should_stop()
                if stopping:
                    for other in (group, *ready, *idle):  # games already over still count
                        yield from self._refill(other, source, True)
                    return
                self._sync(group)
                yield from self._refill(group, source, False)
                if group.active.any():
                    group.busy = True
                    group.steps = group.search.steps(group.states, group.active, group.rs)
                    self._resume(group, None, waiting, ready, pool)
                else:
                    idle.append(group)
            if not waiting:
                if source.exhausted():
                    return
                source.wait(0.05)
            else:
                # Idle groups look for new games now and then; answers wake us.
                poll = 0.05 if idle and not source.exhausted() else math.inf
                _wait_any(list(waiting.values()), poll)
                now = time.monotonic()
                for group, evaluation in list(waiting.items()):
                    answer = evaluation.poll() if _ready(evaluation, now) else None
                    if answer is not None:
                        del waiting[group]
                        self.stats.eval_seconds += time.perf_counter() - group.sent_at
                        self._resume(group, answer, waiting, ready, pool, evaluation.release)
            ready.extend(idle)
            idle.clear()

    def _resume(
        self,
        group: _Group,
        answer: Answer | None,
        waiting: dict[_Group, _Evaluation],
        ready: deque[_Group],
        pool: ThreadPoolExecutor,
        read: Callable[[], None] = lambda: None,
    ) -> None:
        """Run ``group``'s search on from its last leaf batch (``answer``; None to begin) to
        its next one, sent to be evaluated (into ``waiting``), or to its end: its decision is
        played and the group is ``ready`` for the next. ``read`` is called once the search has
        read the answer, before the next batch goes (which may go from the memory the answer
        came in: a shared-memory channel's slot lent to the search)."""
        assert group.steps is not None
        try:
            rows = group.steps.send(answer)  # type: ignore[arg-type]  # None begins it
        except StopIteration as done:
            group.busy, group.steps = False, None
            self._advance(group, done.value)
            ready.append(group)
            return
        finally:
            read()
        group.sent_at = time.perf_counter()
        waiting[group] = group.evaluator.start(rows, pool)

    def _refill(self, group: _Group, source: SpecSource, stopping: bool) -> Iterator[GameRecord]:
        """Start games in the group's empty slots (none when ``stopping``), play forced moves
        (a single legal action, played without search), and yield the games that end."""
        states, buf, slots = group.states, group.buf, group.slots
        for i in range(len(slots)):
            while True:
                slot = slots[i]
                if slot is None:
                    spec = None if stopping else source.take()
                    if spec is None:
                        break
                    slot = slots[i] = self._start(spec, states, group.rs, i)
                while (
                    states[i, k.F_PHASE] != k.PHASE_TERMINAL
                    and k.legal_actions(states[i], buf) == 1
                ):
                    k.apply_unchecked(states[i], buf[0])
                if states[i, k.F_PHASE] != k.PHASE_TERMINAL:
                    break
                yield self._finish(slot, states[i], group.search.settings)
                slots[i] = None
        group.active[:] = [s is not None for s in slots]

    def _advance(self, group: _Group, result: SearchResult) -> None:
        """Record each active game's decision and play the move drawn from its search."""
        settings = group.search.settings
        states, active, features, legal = group.states, group.active, group.features, group.legal
        idx = np.flatnonzero(active)
        encode_batch(states[idx], states[idx, k.F_PLAYER], features, legal)
        temps = np.array(
            [settings.temperature_at(int(states[i, k.F_HISTLEN])) for i in range(len(active))]
        )
        weights = result.visits if settings.plays_visits else result.policy
        sample_actions(weights.astype(np.float64), temps, active, group.rs, group.chosen)
        for row, i in enumerate(idx.tolist()):
            slot = group.slots[i]
            assert slot is not None
            slot.players.append(int(states[i, k.F_PLAYER]))
            slot.features.append(features[row].copy())
            slot.legal.append(legal[row].copy())
            slot.policy.append(result.policy[i].copy())
            k.apply_unchecked(states[i], int(group.chosen[i]))
        self.stats.decisions += len(idx)

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

    def _finish(self, slot: _Slot, state: np.ndarray, settings: SearchSettings) -> GameRecord:
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
            determinizations=settings.determinizations,
            simulations=settings.simulations,
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
