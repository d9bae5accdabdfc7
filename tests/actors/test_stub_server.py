"""The stand-in inference server of the benchmarks, and game groups playing through it as they
would through the real InferenceServer (the same client, RemoteEvaluator)."""

from __future__ import annotations

import asyncio
import statistics
import time

import numpy as np
import pytest

from blobrl.actors.inference import MAX_CONCURRENCY, RemoteEvaluator
from blobrl.bench.remote import StubInferenceServer, stub_network
from blobrl.game import FEATURES
from blobrl.inference import pack_rows
from blobrl.mcts import SearchSettings
from blobrl.selfplay import GameSpec, SelfPlayWorker

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]


def leaf_batch(rows: int) -> np.ndarray:
    rng = np.random.default_rng(rows)
    return (rng.random((rows, FEATURES)) < 0.05).astype(np.float32)


@pytest.fixture(scope="module")
def servers(ray_session):
    """Stand-ins started side by side (each takes seconds to start on a busy machine): 2 and
    20 ms, and one that drops its 20th request."""
    ray = ray_session
    options = {"num_cpus": 0, "max_concurrency": MAX_CONCURRENCY}
    handles = {
        "2ms": ray.remote(**options)(StubInferenceServer).remote(latency_ms=2.0),
        "20ms": ray.remote(**options)(StubInferenceServer).remote(latency_ms=20.0),
        "dropping": ray.remote(**options)(dropping_stub()).remote(drop=20, latency_ms=2.0),
    }
    ray.get([h.get_version.remote() for h in handles.values()], timeout=240)
    yield handles
    for handle in handles.values():
        ray.kill(handle)


def test_the_stand_in_answers_as_the_stub_network_would_in_process():
    server = StubInferenceServer(latency_ms=0.0, version=6)
    x = leaf_batch(12)
    logits, values, version = asyncio.run(server.evaluate_packed(*pack_rows(x)))
    expected = stub_network(x)
    np.testing.assert_array_equal(logits, expected[0])
    np.testing.assert_array_equal(values, expected[1])
    assert version == 6 and server.counts() == (1, 12)
    with pytest.raises(ValueError, match="packed rows must be"):
        asyncio.run(server.evaluate_packed(pack_rows(x)[0][:, :-1], pack_rows(x)[1]))


@pytest.mark.parametrize("latency_ms", [2.0, 20.0])
def test_the_stand_in_server_adds_the_latency_it_says(servers, latency_ms):
    evaluator = RemoteEvaluator(servers[f"{latency_ms:.0f}ms"])
    x = leaf_batch(64)
    round_trips = []
    for _ in range(30):
        start = time.perf_counter()
        evaluator(x)
        round_trips.append(1000.0 * (time.perf_counter() - start))
    assert min(round_trips) >= latency_ms
    # Ray's own round trip is a few ms on a busy 2-core machine; far more means a queue.
    assert statistics.median(round_trips) < latency_ms + 50.0


def test_game_groups_through_the_stand_in_play_the_games_of_the_stub_in_process(servers):
    settings = SearchSettings(2, 4)
    games = [GameSpec(4, 3, seed=70 + i, game_id=i) for i in range(8)]
    remote = SelfPlayWorker(
        RemoteEvaluator(servers["2ms"]), settings=settings, games_in_flight=2, game_groups=3
    ).play(games)
    local = SelfPlayWorker(stub_network, settings=settings, games_in_flight=2).play(games)
    by_id = {r.game_id: r for r in local}
    assert sorted(by_id) == sorted(r.game_id for r in remote)
    for record in remote:
        twin = by_id[record.game_id]
        assert record.actions.tobytes() == twin.actions.tobytes()
        assert record.policy.tobytes() == twin.policy.tobytes()
        assert record.feature_bits.tobytes() == twin.feature_bits.tobytes()


def dropping_stub() -> type:
    """A stand-in that never answers its ``drop``-th request (it waits until the client cancels
    it), as a request lost in a server restart, and tells when it dropped it. Made in a function
    so that Ray ships the class by value (workers cannot import the test modules)."""

    class DroppingStub(StubInferenceServer):
        def __init__(self, *, drop: int, **kwargs) -> None:
            super().__init__(**kwargs)
            self.drop = drop
            self.dropped_at: float | None = None

        async def evaluate_packed(self, bits, cont, model=None):
            if self.requests + 1 == self.drop and self.dropped_at is None:
                self.requests += 1
                self.dropped_at = time.time()
                await asyncio.sleep(3600)
            return await super().evaluate_packed(bits, cont, model)

        def dropped(self) -> float | None:
            return self.dropped_at

    return DroppingStub


def test_a_dropped_request_is_sent_again_while_the_other_groups_play_on(ray_session, servers):
    timeout_s = 4.0
    server = servers["dropping"]
    evaluator = RemoteEvaluator(server, timeout_s=timeout_s)
    settings = SearchSettings(1, 4)
    games = [GameSpec(3, 2, seed=900 + i, game_id=i) for i in range(150)]
    worker = SelfPlayWorker(evaluator, settings=settings, games_in_flight=2, game_groups=3)
    finished = []
    for record in worker.play_iter(games):
        finished.append((time.time(), record))
    dropped_at = ray_session.get(server.dropped.remote())
    assert dropped_at is not None and evaluator.resent == 1
    # While one group waited out the client's timeout, the others finished games.
    waiting = [t for t, _ in finished if dropped_at < t < dropped_at + timeout_s - 1.0]
    assert len(waiting) >= 5
    # And the resent request made the games whole: as the stub network plays them in-process.
    local = SelfPlayWorker(stub_network, settings=settings, games_in_flight=2).play(games)
    by_id = {r.game_id: r for r in local}
    assert len(finished) == len(games)
    for _, record in finished:
        assert record.actions.tobytes() == by_id[record.game_id].actions.tobytes()
        assert record.policy.tobytes() == by_id[record.game_id].policy.tobytes()
