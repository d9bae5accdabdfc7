"""The shared-memory channel between a client and a server on one machine, without Ray: answers
come back exactly and in order, from many threads at once; what the channel cannot carry goes
through the fallback; server errors reach the caller; a slow answer's slot comes back; a dead
server is heard at once and a new one attached; a dead client's channel and files are dropped."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import threading
import time
from concurrent.futures import wait
from pathlib import Path

import numpy as np
import pytest

from blobrl.inference import InferenceClient, ModelNotLoaded, NoAnswer, pack_rows, unpack_request
from blobrl.inference import channel as ch
from blobrl.inference.channel import ChannelLink, ChannelSpec, ServesChannels

from .nets import features
from .test_client import FakeLink, rowwise


class RowwiseServer(ServesChannels):
    """Answers packed requests from :func:`rowwise` after ``delay_s``; ``lost`` names networks
    it does not hold, and a request of exactly ``fail_rows`` rows fails."""

    def __init__(self, *, delay_s: float = 0.0, lost=(), fail_rows: int = -1, version: int = 7):
        self.delay_s, self.lost, self.fail_rows, self.version = (
            delay_s,
            set(lost),
            fail_rows,
            version,
        )
        self.requests = 0

    async def evaluate_packed(self, bits, cont, model=None):
        self.requests += 1
        rows = unpack_request(bits, cont)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if model in self.lost:
            raise ModelNotLoaded(f"no network {model!r}")
        if len(rows) == self.fail_rows:
            raise ValueError("a failure the server reports")
        return (*rowwise(rows), self.version)


class LoopThread:
    """``server`` served on an asyncio loop in a thread of this process (as a Ray async actor
    serves it)."""

    def __init__(self, server: RowwiseServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def attach(self, spec: ChannelSpec) -> int | None:
        return asyncio.run_coroutine_threadsafe(self.server.attach_channel(spec), self.loop).result(
            5
        )

    def attached(self) -> int:
        return self.server.channels_attached()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def served():
    threads: list[LoopThread] = []

    def start(**kwargs) -> LoopThread:
        threads.append(LoopThread(RowwiseServer(**kwargs)))
        return threads[-1]

    yield start
    for thread in threads:
        thread.close()


def assert_answers(client, x):
    logits, values = client(x)
    expected = rowwise(x)
    np.testing.assert_array_equal(logits, expected[0])
    np.testing.assert_array_equal(values, expected[1])


def test_a_leaf_batch_is_answered_exactly_one_request_a_slot(served, tmp_path):
    server = served()
    fallback = FakeLink()
    link = ChannelLink(fallback, server.attach, rows=64, slots=8, directory=tmp_path)
    client = InferenceClient(link)
    for rows in (1, 63, 64, 65, 200, 0):
        assert_answers(client, features(rows, seed=rows))
    assert link.attached and server.attached() == 1
    assert server.server.requests == 1 + 1 + 1 + 2 + 4 and fallback.sent == []
    assert client.version == 7 and link.free_slots == 8


def test_many_threads_at_once_each_get_their_own_rows(served, tmp_path):
    """More callers than slots: what finds no free slot goes through the fallback; every
    caller still gets exactly its rows back."""
    server = served(delay_s=0.002)
    fallback = FakeLink()
    link = ChannelLink(fallback, server.attach, rows=32, slots=4, directory=tmp_path)
    client = InferenceClient(link)
    failures: list[BaseException] = []

    def caller(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(15):
                assert_answers(
                    client, features(int(rng.integers(1, 100)), seed=int(rng.integers(1e9)))
                )
        except BaseException as err:  # reported below
            failures.append(err)

    callers = [threading.Thread(target=caller, args=(seed,)) for seed in range(8)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(60)
    assert failures == []
    assert link.shared > 0 and link.fell_back == len(fallback.sent) > 0
    assert link.free_slots == 4


def test_what_the_channel_cannot_carry_goes_through_the_fallback(served, tmp_path, monkeypatch):
    server = served()
    fallback = FakeLink()
    link = ChannelLink(fallback, server.attach, model="arena", rows=16, directory=tmp_path)
    x = features(5, seed=1)
    bits, cont = pack_rows(x)
    assert link.gather([link.send(bits, cont, "other")], 5)[0][0].shape == (5, 65)
    assert fallback.sent == [(5, "other")]  # another network than the channel's
    big_bits, big_cont = pack_rows(features(17, seed=2))
    link.gather([link.send(big_bits, big_cont, "arena")], 5)
    assert fallback.sent[-1] == (17, "arena")  # more rows than a slot (the client splits them)
    assert link.shared == 0

    # A server that cannot map the channel (another machine): the fallback, tried again later.
    monkeypatch.setattr(ch, "_RETRY_S", 0.2)
    refusals = [None, None]

    def attach(spec: ChannelSpec) -> int | None:
        return refusals.pop() if refusals else server.attach(spec)

    refusing = ChannelLink(FakeLink(), attach, directory=tmp_path)
    client = InferenceClient(refusing)
    assert_answers(client, features(3, seed=3))
    assert not refusing.attached and refusing.max_rows is None
    time.sleep(0.25)
    assert_answers(client, features(3, seed=4))  # second refusal
    time.sleep(0.25)
    assert_answers(client, features(3, seed=5))
    assert refusing.attached and refusing.shared == 1 and refusing.fell_back == 2


def test_server_errors_reach_the_caller_and_free_their_slots(served, tmp_path):
    server = served(lost={"gone"}, fail_rows=3)
    link = ChannelLink(FakeLink(), server.attach, model="gone", slots=2, directory=tmp_path)
    with pytest.raises(ModelNotLoaded, match="no network 'gone'"):
        InferenceClient(link, model="gone")(features(2, seed=0))
    link = ChannelLink(FakeLink(), server.attach, slots=2, directory=tmp_path)
    client = InferenceClient(link)
    for _ in range(5):  # more failures than slots: none is kept
        with pytest.raises(RuntimeError, match="ValueError: a failure the server reports"):
            client(features(3, seed=0))
    assert_answers(client, features(4, seed=1))
    assert link.free_slots == 2 and link.fell_back == 0


def test_a_slow_answer_times_out_and_its_slot_comes_back_when_it_arrives(served, tmp_path):
    server = served(delay_s=0.3)
    link = ChannelLink(FakeLink(), server.attach, slots=2, directory=tmp_path)
    bits, cont = pack_rows(features(4, seed=0))
    pending = [link.send(bits, cont, None)]
    start = time.monotonic()
    with pytest.raises(NoAnswer):
        link.gather(pending, 0.05)
    assert time.monotonic() - start < 2  # its own timeout, not the answer's 0.3 s (loaded CI)
    link.cancel(pending)
    assert link.free_slots == 1  # held until its answer comes
    deadline = time.monotonic() + 5
    while link.free_slots < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert link.free_slots == 2
    ((logits, values, version),) = link.gather([link.send(bits, cont, None)], 5)
    np.testing.assert_array_equal(logits, rowwise(features(4, seed=0))[0])
    np.testing.assert_array_equal(values, rowwise(features(4, seed=0))[1])
    assert version == 7


def _serve_in_process(conn, delay_s: float) -> None:
    """A server process: attaches the channels whose specs arrive on ``conn``."""
    server = LoopThread(RowwiseServer(delay_s=delay_s))
    while True:
        conn.send(server.attach(conn.recv()))


class ServerProcess:
    def __init__(self, delay_s: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve_in_process, args=(child, delay_s), daemon=True)
        self.process.start()

    def attach(self, spec: ChannelSpec) -> int | None:
        self.conn.send(spec)
        return self.conn.recv() if self.conn.poll(60) else None

    def kill(self) -> None:
        self.process.kill()
        self.process.join(10)


def test_a_dead_server_is_heard_at_once_and_a_restarted_one_attached(tmp_path):
    servers = [ServerProcess(delay_s=10.0)]
    link = ChannelLink(FakeLink(), lambda spec: servers[-1].attach(spec), directory=tmp_path)
    client = InferenceClient(link, timeout_s=60.0)
    bits, cont = pack_rows(features(4, seed=0))
    pending = [link.send(bits, cont, None)]
    assert link.attached
    first = link._channel.path
    killer = threading.Timer(0.5, servers[0].kill)
    killer.start()
    start = time.monotonic()
    with pytest.raises(NoAnswer):  # well before the 60 s timeout
        link.gather(pending, 60.0)
    assert time.monotonic() - start < 5
    assert not first.exists()  # the broken channel's files are gone
    servers.append(ServerProcess())
    try:
        assert_answers(client, features(6, seed=1))
        assert link.attached and link.shared == 2 and link.fell_back == 0
    finally:
        servers[-1].kill()


def _client_in_process(directory: str, conn) -> None:
    link = ChannelLink(
        FakeLink(), lambda spec: (conn.send(spec), conn.recv())[1], directory=Path(directory)
    )
    bits, cont = pack_rows(features(2, seed=0))
    link.gather([link.send(bits, cont, None)], 30)
    conn.send("answered")
    time.sleep(60)


def test_a_dead_clients_channel_and_files_are_dropped(served, tmp_path):
    server = served()
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    client = context.Process(target=_client_in_process, args=(str(tmp_path), child), daemon=True)
    client.start()
    assert conn.poll(60)
    spec = conn.recv()
    conn.send(server.attach(spec))
    assert conn.poll(30) and conn.recv() == "answered" and server.attached() == 1
    assert Path(spec.path).exists()
    client.kill()
    client.join(10)
    deadline = time.monotonic() + 5
    while server.attached() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.attached() == 0
    assert not any(tmp_path.iterdir())


def test_a_channel_another_machine_cannot_see_is_refused_and_stale_files_removed(served, tmp_path):
    server = served()
    spec = ChannelSpec(str(tmp_path / "nowhere"), 4, 16, None, os.getpid())
    assert server.attach(spec) is None and server.attached() == 0
    dead = 2**22 + 12345  # above the kernel's default pid_max: no such process
    stale = tmp_path / f"blobrl-channel-{dead}-abc.req"
    stale.write_bytes(b"")
    assert not ch.alive(dead)
    link = ChannelLink(FakeLink(), server.attach, directory=tmp_path)
    assert_answers(InferenceClient(link), features(2, seed=0))
    assert not stale.exists() and link.attached


def test_a_closed_or_dropped_link_frees_its_channel_and_reader(served, tmp_path):
    server = served()
    # Threads by identity, not name: a reader of an earlier test's link may still be ending.
    before = set(threading.enumerate())
    link = ChannelLink(FakeLink(), server.attach, directory=tmp_path)
    assert_answers(InferenceClient(link), features(2, seed=0))
    readers = [t for t in set(threading.enumerate()) - before if t.name == "inference-channel"]
    assert len(readers) == 1  # this link's reader
    link.close()
    assert not any(tmp_path.iterdir())

    def settled() -> bool:
        return server.attached() == 0 and not readers[0].is_alive()

    deadline = time.monotonic() + 5
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert settled()  # the server let go of it, and the reader thread ended

    dropped = ChannelLink(FakeLink(), server.attach, directory=tmp_path)
    assert_answers(InferenceClient(dropped), features(2, seed=1))
    assert any(tmp_path.iterdir())
    del dropped
    gc.collect()
    assert not any(tmp_path.iterdir())


def test_a_started_request_is_done_when_its_answer_is_in_or_its_channel_broke(served, tmp_path):
    server = served(delay_s=0.05)
    link = ChannelLink(FakeLink(), server.attach, slots=2, directory=tmp_path)
    client = InferenceClient(link)
    assert client.asynchronous
    x = features(10, seed=3)
    call = client.start((x,))
    assert not call.futures[0].done() and call.poll() is None
    wait(call.futures, 5)
    np.testing.assert_array_equal(call.poll()[0], rowwise(x)[0])
    lost = client.start((x,))
    link.close()  # its request is lost with the channel: done at once, then sent again
    wait(lost.futures, 5)
    assert lost.poll() is None and client.resent == 1
    wait(lost.futures, 5)
    np.testing.assert_array_equal(lost.poll()[0], rowwise(x)[0])
    assert link.attached and link.fell_back == 0


def test_a_poller_takes_in_its_answers_itself_without_the_reader_thread(
    served, tmp_path, monkeypatch
):
    """The self-play worker polls its requests between searches: the answers that came are
    taken in by the polling thread (drain), with no handoff from the reader thread, and read
    in their slot until released."""

    def reader_that_only_waits(self, server_pid):
        while not self.broken:
            time.sleep(0.01)

    monkeypatch.setattr(ch._ClientChannel, "_watch", reader_that_only_waits)
    link = ChannelLink(FakeLink(), served().attach, slots=2, directory=tmp_path)
    client = InferenceClient(link, timeout_s=30.0)
    x = features(7, seed=11)
    call = client.start((x,))
    deadline = time.monotonic() + 10
    while (answer := call.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert answer is not None
    np.testing.assert_array_equal(answer[0], rowwise(x)[0])
    assert link.free_slots == 1 and client.resent == 0  # read in place: the slot is held
    call.release()
    assert link.free_slots == 2
    link.close()


def test_while_polling_the_caller_takes_in_its_answers_and_the_reader_sleeps(
    served, tmp_path, monkeypatch
):
    """Inside ``polling()`` the reader thread sleeps through the answers, which the caller
    takes in itself between searches (refresh) and when it waits (wait, listening on the
    channel); outside it, a call's future is done with nobody polling."""
    takers: list[str] = []
    take = ch._ClientChannel._take

    def noted(self, data):
        takers.append(threading.current_thread().name)
        take(self, data)

    monkeypatch.setattr(ch._ClientChannel, "_take", noted)
    link = ChannelLink(FakeLink(), served().attach, slots=4, directory=tmp_path)
    client = InferenceClient(link, timeout_s=30.0)
    x = features(5, seed=3)
    with client.polling():
        time.sleep(0.2)  # the reader, woken by polling(), has gone back to sleep without the FIFO
        call = client.start((x,))
        time.sleep(0.3)  # answered by now, and nobody has read it
        assert not call.futures[0].done() and takers == []
        call.refresh()
        assert call.futures[0].done() and takers == ["MainThread"]
        np.testing.assert_array_equal(call.poll()[0], rowwise(x)[0])
        call.release()
        later = client.start((x,))
        later.wait(later.futures, 10.0)  # listens, and takes it in itself
        assert later.futures[0].done() and later.poll() is not None
        later.release()
        assert takers == ["MainThread"] * len(takers)
    takers.clear()
    free = client.start((x,))
    wait(free.futures, 10.0)  # nobody polls: the reader takes it in
    assert free.futures[0].done() and takers == ["inference-channel"]
    np.testing.assert_array_equal(free.poll()[0], rowwise(x)[0])
    free.release()
    link.close()


def test_rows_written_in_a_lent_slot_go_without_a_copy_and_the_slot_comes_back(served, tmp_path):
    """A search that writes its rows in arrays lent by the channel (row_buffers) sends them from
    that slot; while the slot's answer is still held, or after the arrays are dropped, requests
    are copied into other slots as before; at most half the slots are lent."""
    link = ChannelLink(FakeLink(), served().attach, slots=4, directory=tmp_path)
    client = InferenceClient(link, timeout_s=30.0)
    lent = client.row_buffers(9)
    assert lent is not None and client.row_buffers(2000) is None  # more rows than a slot holds
    bits, cont = lent
    x = features(9, seed=21)
    bits[:], cont[:] = pack_rows(x)
    call = client.start((bits, cont))
    (pending,) = call._pending
    leased = pending.slot
    assert link._channel._lease_at == {bits.__array_interface__["data"][0]: leased}
    wait(call.futures, 10.0)
    answer = call.poll()
    np.testing.assert_array_equal(answer[0], rowwise(x)[0])
    again = client.start((bits, cont))  # the lent slot still holds the answer: copied
    assert again._pending[0].slot != leased
    wait(again.futures, 10.0)
    np.testing.assert_array_equal(again.poll()[0], rowwise(x)[0])
    again.release()
    call.release()
    assert link.free_slots == 4
    third = client.start((bits, cont))  # idle again: in place
    assert third._pending[0].slot == leased
    wait(third.futures, 10.0)
    np.testing.assert_array_equal(third.poll()[1], rowwise(x)[1])
    third.release()
    second = client.row_buffers(9)
    assert second is not None and client.row_buffers(9) is None  # two of four lent: no more
    del lent, bits, cont, call, again, third, second
    gc.collect()
    assert link._channel._leased == set() and link.free_slots == 4
    link.close()


def test_games_through_lent_slots_are_the_games_played_in_process(served, tmp_path):
    """Three groups whose searches write their leaf batches into lent slots play the same games,
    move for move, as one group asking the same network in the process."""
    from blobrl.mcts import SearchSettings
    from blobrl.selfplay import GameSpec, SelfPlayWorker

    class InProcess:
        def __call__(self, x):
            return rowwise(x)

        def packed_rows(self, bits, cont):
            return rowwise(unpack_request(bits, cont))

    link = ChannelLink(FakeLink(), served().attach, slots=8, directory=tmp_path)
    settings = SearchSettings(2, 6)
    through = SelfPlayWorker(
        InferenceClient(link), settings=settings, games_in_flight=3, game_groups=3
    )
    local = SelfPlayWorker(InProcess(), settings=settings, games_in_flight=3)
    games = [GameSpec(4, 3, seed=90 + i, game_id=i) for i in range(9)]
    remote_games = sorted(through.play(games), key=lambda r: r.seed)
    local_games = sorted(local.play(games), key=lambda r: r.seed)
    assert link._channel._leased and link.fell_back == 0
    for a, b in zip(remote_games, local_games, strict=True):
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.policy, b.policy)
    link.close()


def test_game_groups_through_a_channel_hold_no_slot_after_their_plays(served, tmp_path):
    """Three groups read their answers in their slots; after a play that ends in a stop with
    requests out, and a play to the end, every slot is free and nothing fell back to Ray."""
    from blobrl.mcts import SearchSettings
    from blobrl.selfplay import GameSpec, SelfPlayWorker

    link = ChannelLink(FakeLink(), served(delay_s=0.002).attach, slots=6, directory=tmp_path)
    worker = SelfPlayWorker(
        InferenceClient(link), settings=SearchSettings(2, 4), games_in_flight=3, game_groups=3
    )
    games = [GameSpec(4, 3, seed=70 + i, game_id=i) for i in range(12)]
    polls = iter(range(1000))
    worker.play(games, should_stop=lambda: next(polls) > 6)
    assert len(worker.play(games)) == len(games)
    deadline = time.monotonic() + 5  # answers to the stopped play's requests come back late
    while link.free_slots < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert link.free_slots == 6 and link.fell_back == 0 and link.shared > 0
    # The groups' searches write their rows in lent slots (a group replaced after the stopped
    # play may have found none free while its predecessor's request was still out).
    assert 1 <= len(link._channel._leased) <= 3
    link.close()
