"""InferenceServer: callers get exactly their rows, requests merge into batches, waits are
bounded, weight swaps are atomic, networks loaded by name answer beside the self-play one."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from blobrl.game import FEATURES
from blobrl.inference import InferenceServer, InferenceStats, ModelNotLoaded, pack_rows
from blobrl.nn import state_dict_to_bytes

from .nets import (
    assert_rows_match,
    encoded_positions,
    features,
    reference,
    small_net,
    weight_bytes,
)


def run(coro):
    return asyncio.run(coro)


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


def test_networks_loaded_by_name_answer_beside_the_self_play_one_never_in_its_batches():
    inputs = [features(16, seed=i) for i in range(6)]
    names = [None, "other", None, "other", None, None]

    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_batch=1024, max_wait_ms=20.0)
        await server.load_model("other", weight_bytes(1))
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
        await server.load_model("arena", weight_bytes(1))
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


@pytest.mark.parametrize("unpack_on_device", [False, True])
def test_packed_and_float_requests_in_one_batch_get_their_own_answers(unpack_on_device):
    """Packed rows unpacked on the device (a batch of packed rows only) or into the staging
    rows (mixed with float rows, or on the host) give the answers of their float rows."""
    x = [encoded_positions(n, seed=20 + n) for n in (30, 1, 70, 12, 45)]
    packed = [True, True, False, True, True]

    async def main():
        server = InferenceServer(
            small_net(2), device="cpu", max_wait_ms=20.0, unpack_on_device=unpack_on_device
        )
        mixed = await asyncio.gather(
            *(
                server.evaluate_packed(*pack_rows(rows)) if p else server.evaluate_versioned(rows)
                for rows, p in zip(x, packed, strict=True)
            )
        )
        only_packed = await asyncio.gather(*(server.evaluate_packed(*pack_rows(r)) for r in x))
        await server.close()
        return mixed, only_packed, server.stats()

    mixed, only_packed, stats = run(main())
    direct = reference(2)
    for rows, a, b in zip(x, mixed, only_packed, strict=True):
        assert_rows_match(a[:2], direct(rows))
        assert_rows_match(b[:2], direct(rows))
    assert stats.batches < 2 * len(x)  # merged


def test_a_packed_request_is_copied_so_its_slot_may_be_reused_while_it_waits():
    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_wait_ms=50.0)
        x = encoded_positions(40, seed=9)
        bits, cont = pack_rows(x)
        waiting = asyncio.ensure_future(server.evaluate_packed(bits, cont))
        await asyncio.sleep(0)  # submitted, not yet evaluated
        bits[:] = 0  # the caller gave up on it and wrote another request there
        cont[:] = 0
        logits, values, _ = await waiting
        await server.close()
        return x, (logits, values)

    x, answer = run(main())
    assert_rows_match(answer, reference(0)(x))


def test_a_publication_while_the_first_requests_arrive_answers_each_under_its_own_version():
    """A swap slow enough that requests arrive while it loads (the first publication, before
    any batch has run): no answer carries one version's label and the other's numbers."""
    weights = {v: state_dict_to_bytes(small_net(v).state_dict()) for v in (0, 1)}
    evaluators = {0: reference(0), 1: reference(1)}

    async def main():
        server = InferenceServer(small_net(0), device="cpu", max_batch=64, max_wait_ms=0.0)
        evaluator = server._evaluator
        load = evaluator.set_weights

        def slow_load(state_dict, version):
            time.sleep(0.2)
            load(state_dict, version)

        evaluator.set_weights = slow_load
        xs = [features(20, seed=i) for i in range(6)]
        publication = asyncio.ensure_future(server.set_weights(weights[1], 1))
        await asyncio.sleep(0.01)  # the load is under way
        answers = await asyncio.gather(*(server.evaluate_versioned(x) for x in xs))
        await publication
        await server.close()
        return xs, answers

    xs, answers = run(main())
    for x, (logits, values, version) in zip(xs, answers, strict=True):
        assert_rows_match((logits, values), evaluators[version](x))
