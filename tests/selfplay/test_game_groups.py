"""Game groups: several groups of games in flight per worker change when games are searched,
never what is played, and one group waiting on a late answer does not hold the others."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import Future

import numpy as np
import pytest

from blobrl.bench.remote import stub_network, stub_network_packed
from blobrl.data import GameRecord
from blobrl.inference import InferenceClient, NoAnswer
from blobrl.mcts import SearchSettings
from blobrl.selfplay import GameSpec, SelfPlayWorker

DEALS = [(3, 1), (4, 6), (5, 7), (6, 5), (8, 6)]


def specs(count: int, deals=DEALS) -> list[GameSpec]:
    return [GameSpec(*deals[i % len(deals)], seed=500 + i, game_id=i) for i in range(count)]


def play(settings, games, *, groups, in_flight=3, evaluator=stub_network) -> list[GameRecord]:
    worker = SelfPlayWorker(
        evaluator, settings=settings, games_in_flight=in_flight, game_groups=groups
    )
    return worker.play(games)


def assert_same_games(a: list[GameRecord], b: list[GameRecord]) -> None:
    """Byte for byte, every field of every record, matched by game id."""
    by_id = {r.game_id: r for r in b}
    assert sorted(by_id) == sorted(r.game_id for r in a)
    for left in a:
        right = by_id[left.game_id]
        for f in dataclasses.fields(GameRecord):
            x, y = getattr(left, f.name), getattr(right, f.name)
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and x.shape == y.shape, f.name
                assert x.tobytes() == y.tobytes(), f"game {left.game_id}: {f.name} differs"
            else:
                assert x == y, f"game {left.game_id}: {f.name} differs"


# Not the Gumbel root: its phases run as many rounds as the game of the batch that needs the
# most (blobrl.mcts.search), so a Gumbel game depends on its batch company, groups or not.
@pytest.mark.parametrize(
    "settings",
    [SearchSettings(2, 6), SearchSettings(1, 8, tree="information_set", belief_pool=8)],
    ids=["worlds", "information_set"],
)
@pytest.mark.parametrize("groups", [2, 3])
def test_several_game_groups_play_exactly_the_games_of_one_group(settings, groups):
    games = specs(14)
    one = play(settings, games, groups=1)
    several = play(settings, games, groups=groups)
    assert_same_games(one, several)


class OneLateAnswer:
    """The stub network, except that the ``late``-th call waits until ``release`` (or 60 s)."""

    def __init__(self, late: int):
        self.late = late
        self.calls = 0
        self.waiting = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, features):
        with self.lock:
            self.calls += 1
            mine = self.calls == self.late
        if mine:
            self.waiting.set()
            self.release.wait(60)
        return stub_network(features)


def test_a_group_waiting_on_a_late_answer_does_not_hold_the_others():
    settings = SearchSettings(1, 4)
    games = specs(40, deals=[(3, 2), (4, 2)])
    evaluator = OneLateAnswer(late=5)
    worker = SelfPlayWorker(evaluator, settings=settings, games_in_flight=2, game_groups=3)
    records, while_waiting = [], 0
    for record in worker.play_iter(games):
        records.append(record)
        if evaluator.waiting.is_set() and not evaluator.release.is_set():
            while_waiting += 1
            if while_waiting == 10:  # the other groups kept playing: let the late one in
                evaluator.release.set()
    assert while_waiting >= 10, "the other groups stopped while one waited"
    assert_same_games(play(settings, games, groups=1, in_flight=2), records)


def test_a_stop_leaves_a_group_stuck_on_its_answer_behind_and_the_worker_plays_again():
    settings = SearchSettings(1, 4)
    evaluator = OneLateAnswer(late=3)
    worker = SelfPlayWorker(evaluator, settings=settings, games_in_flight=2, game_groups=2)
    games = specs(30, deals=[(3, 2)])
    start = time.monotonic()
    done = worker.play(games, should_stop=evaluator.waiting.is_set)
    assert time.monotonic() - start < 30  # did not wait for the stuck group
    assert len(done) < len(games)
    evaluator.release.set()  # the abandoned search unwinds on its own thread
    again = worker.play(games)
    assert_same_games(play(settings, games, groups=1, in_flight=2), again)


def test_new_settings_reach_every_group_at_its_next_decision():
    worker = SelfPlayWorker(
        stub_network, settings=SearchSettings(1, 4), games_in_flight=2, game_groups=3
    )
    changed = SearchSettings(2, 3)
    polls = 0

    def should_stop() -> bool:
        nonlocal polls
        polls += 1
        if polls == 10:
            worker.set_settings(changed)
        return False

    records = worker.play(specs(30, deals=[(4, 3)]), should_stop=should_stop)
    assert len(records) == 30
    # Games that end after the change are recorded with the settings they finished under.
    assert (records[-1].determinizations, records[-1].simulations) == (2, 3)
    assert all(g.search.settings is changed for g in worker._groups)


def test_game_groups_must_be_positive():
    with pytest.raises(ValueError, match="game_groups"):
        SelfPlayWorker(stub_network, settings=SearchSettings(1, 2), game_groups=0)


class TimerLink:
    """A server link whose answers (the stub network's) come in ``delay_s`` after each request,
    from a timer thread; the requests numbered in ``lose`` (from 1) are never answered."""

    def __init__(self, *, delay_s: float = 0.001, lose=()):
        self.delay_s, self.lose = delay_s, set(lose)
        self.sent = 0
        self.cancelled = 0
        self.threads = {threading.current_thread().name}  # the threads that sent requests

    def version(self) -> int:
        return 0

    def send(self, bits, cont, model):
        self.sent += 1
        self.threads.add(threading.current_thread().name)
        future: Future = Future()
        if self.sent not in self.lose:
            answer = (*stub_network_packed(bits, cont), 0)
            threading.Timer(self.delay_s, future.set_result, (answer,)).start()
        return future

    def future(self, pending):
        return pending

    def gather(self, pending, timeout_s):
        try:
            return [f.result(timeout=timeout_s) for f in pending]
        except TimeoutError as err:
            raise NoAnswer("no answer") from err

    def cancel(self, pending):
        self.cancelled += len(pending)


@pytest.mark.parametrize(
    "settings",
    [SearchSettings(2, 6), SearchSettings(1, 8, tree="information_set", belief_pool=8)],
    ids=["worlds", "information_set"],
)
def test_groups_through_a_client_that_does_not_wait_play_the_games_of_one_group(settings):
    """The searches all run in the playing thread, sending a batch and going on with another
    group; the rows go in wire form (or packed by the client) and the games are the same."""
    games = specs(14)
    link = TimerLink()
    client = InferenceClient(link)
    several = play(settings, games, groups=3, evaluator=client)
    assert link.sent > 0 and link.threads == {threading.current_thread().name}
    assert_same_games(play(settings, games, groups=1), several)


def test_a_lost_answer_is_sent_again_while_the_other_groups_play_on():
    settings = SearchSettings(1, 4)
    games = specs(40, deals=[(3, 2), (4, 2)])
    link = TimerLink(lose={5})
    client = InferenceClient(link, timeout_s=1.0)
    worker = SelfPlayWorker(client, settings=settings, games_in_flight=2, game_groups=3)
    start = time.monotonic()
    records, before_resend = [], 0
    for record in worker.play_iter(games):
        records.append(record)
        before_resend += client.resent == 0 and link.sent >= 5
    assert client.resent == 1 and link.cancelled == 1
    assert before_resend >= 10, "the other groups stopped while one waited"
    assert time.monotonic() - start < 30
    assert_same_games(play(settings, games, groups=1, in_flight=2), records)


def test_a_stop_gives_up_the_requests_still_out_so_they_hold_nothing():
    """A stop drops the groups still waiting; their requests are cancelled (a channel frees
    their slots), and the worker plays the next games as it should."""
    settings = SearchSettings(1, 4)
    games = specs(30, deals=[(3, 2)])
    link = TimerLink(delay_s=0.05)
    client = InferenceClient(link)
    worker = SelfPlayWorker(client, settings=settings, games_in_flight=2, game_groups=3)
    polls = 0

    def should_stop() -> bool:
        nonlocal polls
        polls += 1
        return polls > 4  # after the groups' first decisions are under way

    worker.play(games, should_stop=should_stop)
    assert link.cancelled >= 1  # the groups still waiting when one was asked to stop
    assert_same_games(play(settings, games, groups=1, in_flight=2), worker.play(games))
