"""InferenceServer: callers get exactly their rows, requests merge into batches, waits are
bounded, weight swaps are atomic; and the Ray actor serves two self-play workers at once."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import torch

from blobrl.actors.evaluator import EvaluatorService
from blobrl.actors.inference import (
    WIRE_ROWS,
    InferenceServer,
    InferenceServerActor,
    InferenceStats,
    ModelNotLoaded,
    RemoteEvaluator,
    pack_rows,
    unpack_rows,
)
from blobrl.game import FEATURES, encode, feasible_deals, new_game
from blobrl.mcts import SearchSettings
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network, state_dict_to_bytes
from blobrl.selfplay import GameSpec, SelfPlayWorker

SMALL = NetworkConfig(hidden=32, blocks=1)
ATOL = 1e-5  # the same rows in a different batch may round differently


def small_net(seed: int):
    torch.manual_seed(seed)
    return build_network(SMALL)


def reference(seed: int) -> TorchEvaluator:
    """A direct evaluator over the same weights as ``small_net(seed)``."""
    return TorchEvaluator(small_net(seed))


def features(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((rows, FEATURES)) < 0.1).astype(np.float32)


def run(coro):
    return asyncio.run(coro)


def assert_rows_match(got, expected):
    np.testing.assert_allclose(got[0], expected[0], atol=ATOL)
    np.testing.assert_allclose(got[1], expected[1], atol=ATOL)


def test_many_concurrent_callers_each_get_exactly_their_rows():
    direct = reference(0)
    sizes = [1, 7, 64, 200, 3, 384, 5, 90, 128, 31, 1, 250]
    inputs = [features(n, seed=i) for i, n in enumerate(sizes)]

    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_batch=512, max_wait_ms=5.0)
        answers = await asyncio.gather(*(server.evaluate(x) for x in inputs))
        await server.close()
        return answers, server.stats()

    answers, stats = run(main())
    for x, got in zip(inputs, answers, strict=True):
        assert got[0].shape == (x.shape[0], 65) and got[1].shape == (x.shape[0], 8)
        assert got[0].dtype == np.float32 and got[1].dtype == np.float32
        assert_rows_match(got, direct(x))
    assert stats.requests == len(sizes) and stats.rows == sum(sizes)


def test_concurrent_requests_are_merged_into_fewer_larger_batches():
    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_batch=1024, max_wait_ms=50.0)
        await asyncio.gather(*(server.evaluate(features(64, seed=i)) for i in range(16)))
        await server.close()
        return server.stats()

    stats = run(main())
    assert stats.requests == 16 and stats.rows == 16 * 64
    assert stats.batches < 16
    assert stats.mean_batch_rows > 64


def test_a_lone_request_waits_at_most_about_max_wait():
    async def main(max_wait_ms):
        server = InferenceServer(
            small_net(0), device="cpu", max_batch=1024, max_wait_ms=max_wait_ms
        )
        start = time.perf_counter()
        await server.evaluate(features(8, seed=0))
        latency = time.perf_counter() - start
        await server.close()
        return latency, server.stats()

    latency, stats = run(main(30.0))
    assert 0.025 <= latency < 0.5  # it waited for company, but not for long
    assert 25.0 <= stats.mean_queue_wait_ms < 500.0
    latency, _ = run(main(0.0))
    assert latency < 0.2


def test_a_full_batch_goes_at_once_without_waiting_for_max_wait():
    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_batch=256, max_wait_ms=10_000)
        start = time.perf_counter()
        await server.evaluate(features(256, seed=0))
        latency = time.perf_counter() - start
        await server.close()
        return latency

    assert run(main()) < 2.0


def test_a_request_larger_than_max_batch_is_split_and_reassembled_in_order():
    direct = reference(1)
    x = features(1000, seed=3)

    async def main():
        server = InferenceServer(small_net(1), device="cpu", max_batch=128, max_wait_ms=1.0)
        got = await server.evaluate(x)
        await server.close()
        return got, server.stats()

    got, stats = run(main())
    assert_rows_match(got, direct(x))
    assert stats.batches == 8 and stats.rows == 1000 and stats.requests == 1


def test_weight_swaps_are_atomic_for_concurrent_evaluations():
    evaluators = {0: reference(0), 1: reference(1)}
    weights = {v: state_dict_to_bytes(small_net(v).state_dict()) for v in (0, 1)}
    # Sizes above max_batch are split; a swap must not land between their pieces.
    sizes = [5, 40, 64, 150, 200, 17]
    checked = {0: 0, 1: 0}

    async def caller(server, index):
        for round_ in range(12):
            x = features(sizes[(index + round_) % len(sizes)], seed=100 * index + round_)
            logits, values, version = await server.evaluate_versioned(x)
            expected = evaluators[version](x)
            assert_rows_match((logits, values), expected)
            other = evaluators[1 - version](x)
            assert not np.allclose(logits, other[0], atol=1e-3)
            checked[version] += 1

    async def publisher(server):
        for i in range(1, 25):
            await server.set_weights(weights[i % 2], i % 2)
            await asyncio.sleep(0.001)

    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_batch=64, max_wait_ms=1.0)
        await asyncio.gather(publisher(server), *(caller(server, i) for i in range(8)))
        await server.close()

    run(main())
    assert checked[0] > 0 and checked[1] > 0


def test_set_weights_accepts_bytes_or_a_state_dict_and_reports_the_version():
    x = features(10, seed=0)

    async def main():
        server = InferenceServer(small_net(0), device="cpu", version=3)
        assert server.version == 3
        await server.set_weights(state_dict_to_bytes(small_net(1).state_dict()), 4)
        after_bytes = await server.evaluate_versioned(x)
        await server.set_weights(small_net(0).state_dict(), 5)
        after_dict = await server.evaluate_versioned(x)
        await server.close()
        return after_bytes, after_dict, server.stats()

    after_bytes, after_dict, stats = run(main())
    assert after_bytes[2] == 4 and after_dict[2] == 5
    assert_rows_match(after_bytes[:2], reference(1)(x))
    assert_rows_match(after_dict[:2], reference(0)(x))
    assert isinstance(stats, InferenceStats)
    assert stats.version == 5 and stats.device == "cpu" and stats.gpu_memory_bytes == 0


def test_a_server_waiting_for_weights_holds_requests_until_the_first_publication():
    x = features(6, seed=2)

    async def main():
        server = InferenceServer(small_net(0), device="cpu", version=-1, wait_for_weights=True)
        pending = asyncio.ensure_future(server.evaluate_versioned(x))
        await asyncio.sleep(0.3)
        held = not pending.done() and not server.loaded
        await server.set_weights(small_net(1).state_dict(), 7)
        answer = await asyncio.wait_for(pending, 10)
        await server.close()
        return held, answer

    held, answer = run(main())
    assert held  # nothing answered with the constructor's weights
    assert answer[2] == 7
    assert_rows_match(answer[:2], reference(1)(x))


def test_each_server_has_its_own_instance_id():
    async def main():
        servers = [InferenceServer(small_net(0), device="cpu") for _ in range(2)]
        ids = [s.instance() for s in servers] + [servers[0].instance()]
        for server in servers:
            await server.close()
        return ids

    first, second, first_again = run(main())
    assert first == first_again and first != second


def _weights(seed: int) -> bytes:
    return state_dict_to_bytes(small_net(seed).state_dict())


def test_networks_loaded_by_name_answer_beside_the_self_play_one_never_in_its_batches():
    inputs = [features(16, seed=i) for i in range(6)]
    names = [None, "other", None, "other", None, None]

    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_batch=1024, max_wait_ms=20.0)
        await server.load_model("other", _weights(1))
        pairs = zip(inputs, names, strict=True)
        answers = await asyncio.gather(*(server.evaluate(x, m) for x, m in pairs))
        stats, loaded = server.stats(), server.models()
        server.unload_model("other")
        with pytest.raises(ModelNotLoaded):
            await server.evaluate(inputs[0], "other")
        with pytest.raises(ModelNotLoaded):
            await server.evaluate(inputs[0], "never loaded")
        after = await server.evaluate(inputs[0])
        await server.close()
        return answers, stats, loaded, after

    answers, stats, loaded, after = run(main())
    for x, name, got in zip(inputs, names, answers, strict=True):
        assert_rows_match(got, reference(1 if name else 0)(x))
    assert loaded == ["other"]
    # Queued in the order above: one batch per run of requests for the same network.
    assert stats.batches == 5 and stats.rows == 96
    assert_rows_match(after, reference(0)(inputs[0]))


def test_a_request_for_a_network_unloaded_while_it_waits_fails():
    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_batch=1024, max_wait_ms=1000.0)
        await server.load_model("arena", _weights(1))
        pending = asyncio.ensure_future(server.evaluate(features(4, seed=0), "arena"))
        await asyncio.sleep(0.02)  # queued, the batch still filling
        server.unload_model("arena")
        try:
            with pytest.raises(ModelNotLoaded):
                await pending
            return await server.evaluate(features(4, seed=1))  # the server carries on
        finally:
            await server.close()

    assert_rows_match(run(main()), reference(0)(features(4, seed=1)))


def test_bad_shapes_are_refused_and_empty_requests_answered():
    async def main():
        server = InferenceServer(small_net(0), device="cpu")
        with pytest.raises(ValueError, match="features must be"):
            await server.evaluate(np.zeros((3, FEATURES + 1), np.float32))
        logits, values = await server.evaluate(np.zeros((0, FEATURES), np.float32))
        await server.close()
        return logits, values

    logits, values = run(main())
    assert logits.shape == (0, 65) and values.shape == (0, 8)


def test_stats_report_a_recent_rate():
    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_wait_ms=0.0)
        for i in range(5):
            await server.evaluate(features(100, seed=i))
        stats = server.stats()
        await server.close()
        return stats

    stats = run(main())
    assert stats.batches == 5 and stats.mean_batch_rows == 100.0
    assert stats.evals_per_s > 0


@pytest.mark.ray
def test_two_selfplay_workers_share_one_server_actor(ray_session):
    ray = ray_session
    server = InferenceServerActor.remote(
        SMALL, version=3, device="cpu", max_wait_ms=20.0, torch_threads=1
    )
    records: dict[int, list] = {}
    errors: list[BaseException] = []

    def play(index):
        try:
            worker = SelfPlayWorker(
                RemoteEvaluator(server),
                settings=SearchSettings(1, 4),
                games_in_flight=3,
            )
            specs = [GameSpec(4, 6, seed=10 * index + i, game_id=i) for i in range(3)]
            records[index] = worker.play(specs)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=play, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(len(records[i]) == 3 for i in range(2))
    assert all(r.weight_version == 3 for i in range(2) for r in records[i])
    stats = ray.get(server.stats.remote())
    assert stats.batches < stats.requests  # the two workers' leaf batches were merged
    assert stats.mean_batch_rows > stats.rows / stats.requests
    ray.kill(server)


def encoded_positions(count: int, seed: int) -> np.ndarray:
    """``count`` positions of random hands at every table size, as the search encodes them."""
    rng = np.random.default_rng(seed)
    deals = feasible_deals()
    rows = []
    while len(rows) < count:
        n, c = deals[int(rng.integers(len(deals)))]
        mode = ("rotation", "turn_up", "none")[int(rng.integers(3))]
        state = new_game(n, c, seed=int(rng.integers(2**32)), trump_mode=mode)
        while not state.is_terminal() and len(rows) < count:
            rows.append(encode(state))
            state.apply(int(rng.choice(state.legal_actions())))
    return np.stack(rows)


def test_packed_rows_unpack_exactly_and_a_full_request_and_its_answer_go_inline():
    x = encoded_positions(WIRE_ROWS, seed=5)
    bits, cont = pack_rows(x)
    np.testing.assert_array_equal(unpack_rows(bits, cont), x)
    # Ray passes a call's arguments and result inline up to 100 KiB (the object store beyond);
    # the arrays' bytes must leave room for the framing around them.
    answer = (np.zeros((WIRE_ROWS, 65), np.float32), np.zeros((WIRE_ROWS, 8), np.float32))
    for payload in ((bits, cont), answer):
        assert sum(a.nbytes for a in payload) < 100 * 1024 - 4096


def test_packed_requests_are_answered_like_float_ones_and_bad_shapes_refused():
    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_wait_ms=0.0)
        x = encoded_positions(50, seed=6)
        logits, values, _ = await server.evaluate_packed(*pack_rows(x))
        assert_rows_match((logits, values), reference(0)(x))
        bits, cont = pack_rows(x)
        for bad in ((bits[:, :-1], cont), (bits.astype(np.int16), cont), (bits, cont[:-1])):
            with pytest.raises(ValueError, match="packed rows must be"):
                await server.evaluate_packed(*bad)
        await server.close()

    run(main())


class _LossyServer:
    """Stands in for an InferenceServer actor handle whose first ``lose`` requests are lost
    (their tasks never finish), as a request can be when the server is restarted."""

    def __init__(self, ray, lose: int):
        @ray.remote(num_cpus=0)
        def lost():
            time.sleep(30)  # far past the timeout; gone soon after the test

        self.sent = 0
        server = self

        class EvaluatePacked:
            def remote(self, bits, cont):
                server.sent += 1
                if server.sent <= lose:
                    return lost.remote()
                rows = len(bits)
                answer = np.zeros((rows, 65), np.float32), np.full((rows, 8), 0.5, np.float32)
                return ray.put((*answer, 9))

        self.evaluate_packed = EvaluatePacked()


@pytest.mark.ray
def test_a_leaf_batch_larger_than_one_request_comes_back_whole_and_in_order(ray_session):
    ray = ray_session
    server = InferenceServerActor.remote(
        SMALL, weights=_weights(0), version=4, device="cpu", max_wait_ms=20.0, torch_threads=1
    )
    evaluator = RemoteEvaluator(server)
    x = encoded_positions(2 * WIRE_ROWS + 17, seed=7)
    assert_rows_match(evaluator(x), reference(0)(x))
    assert evaluator.version == 4
    stats = ray.get(server.stats.remote())
    assert stats.requests == 3 and stats.rows == x.shape[0]
    logits, values = evaluator(x[:0])
    assert logits.shape == (0, 65) and values.shape == (0, 8)
    ray.kill(server)


@pytest.mark.ray
def test_a_request_lost_in_a_restart_is_sent_again(ray_session):
    server = _LossyServer(ray_session, lose=2)
    evaluator = RemoteEvaluator(server, timeout_s=0.5)
    logits, values = evaluator(features(4, seed=0))
    assert server.sent == 3 and evaluator.resent == 2
    assert logits.shape == (4, 65) and np.all(values == 0.5) and evaluator.version == 9


@pytest.mark.ray
def test_a_network_the_server_lost_is_loaded_again_and_the_request_resent(ray_session):
    ray = ray_session
    server = InferenceServerActor.remote(SMALL, device="cpu", max_wait_ms=1.0, torch_threads=1)
    weights = ray.put(_weights(1))

    def load():
        ray.get(server.load_model.remote("arena", weights))

    load()
    evaluator = RemoteEvaluator(server, model="arena", reload=load)
    x = features(5, seed=2)
    assert_rows_match(evaluator(x), reference(1)(x))
    ray.get(server.unload_model.remote("arena"))  # as a restarted server has lost it
    assert_rows_match(evaluator(x), reference(1)(x))
    assert evaluator.reloaded == 1
    ray.get(server.unload_model.remote("arena"))
    with pytest.raises(ModelNotLoaded):  # without a way to reload it, the caller is told
        RemoteEvaluator(server, model="arena")(x)
    ray.kill(server)


@pytest.mark.ray
def test_arenas_and_gauntlets_play_through_the_server_as_they_do_in_the_evaluator(ray_session):
    ray = ray_session
    server = InferenceServerActor.remote(SMALL, device="cpu", max_wait_ms=0.0, torch_threads=1)
    settings = SearchSettings(1, 4, dirichlet_weight=0.0, temperature=0.0, final_temperature=0.0)
    kwargs = dict(deals=[(4, 3)], arena_deals=3, gauntlet_deals=2, torch_threads=None)
    served = EvaluatorService(SMALL, settings, server=server, **kwargs)
    own = EvaluatorService(SMALL, settings, **kwargs)
    candidate, best = _weights(1), _weights(2)
    arena = served.arena(candidate, best, iteration=4)
    assert ray.get(server.stats.remote()).rows > 0  # the arena's evaluations went to the server
    assert arena == own.arena(candidate, best, iteration=4)
    gauntlet = served.gauntlet(candidate, iteration=4)
    expected = own.gauntlet(candidate, iteration=4)
    assert gauntlet["matches"] == expected["matches"]
    assert ray.get(server.models.remote()) == []  # unloaded after each match
    ray.kill(server)
