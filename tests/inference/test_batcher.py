"""The request queue: batches of whole requests for one network up to max_batch, a request
larger than that cut into consecutive batches and answered whole, in order."""

from __future__ import annotations

import asyncio

import numpy as np

from blobrl.inference.batcher import Request, RequestQueue, deliver

from .nets import features


def rows_of(pieces):
    return [(id(request), start, stop) for request, start, stop in pieces]


def answer(pieces):
    """A batch's answer whose logits hold each row's feature 0, as a forward pass would."""
    rows = np.concatenate([request.features[start:stop] for request, start, stop in pieces])
    return rows[:, :65].copy(), rows[:, :8].copy()


def test_a_batch_takes_whole_requests_for_one_network_in_arrival_order():
    async def main():
        loop = asyncio.get_running_loop()
        queue = RequestQueue(max_batch=100)
        sizes_models = [(30, None), (40, None), (50, None), (10, "arena"), (5, None)]
        requests = [
            Request(features(n, seed=n), loop.create_future(), 0.0, m) for n, m in sizes_models
        ]
        for request in requests:
            queue.put(request)
        assert queue.rows == 135 and len(queue) == 5
        batches = [queue.take_batch() for _ in range(4)]
        assert not queue and queue.rows == 0 and queue.waits == 5
        return requests, batches

    requests, batches = asyncio.run(main())
    a, b, c, d, e = requests
    assert [rows_of(p) for p in batches] == [
        [(id(a), 0, 30), (id(b), 0, 40)],  # c would pass max_batch: it waits whole
        [(id(c), 0, 50)],  # d is for another network
        [(id(d), 0, 10)],
        [(id(e), 0, 5)],
    ]


def test_a_request_larger_than_max_batch_runs_in_consecutive_pieces_and_comes_back_whole():
    async def main():
        loop = asyncio.get_running_loop()
        queue = RequestQueue(max_batch=64)
        big = Request(features(150, seed=1), loop.create_future(), 0.0)
        after = Request(features(3, seed=2), loop.create_future(), 0.0)
        queue.put(big)
        queue.put(after)
        cuts, split = [], []
        while queue:
            split.append(queue.split_in_flight())  # a weight swap waits while this is true
            pieces = queue.take_batch()
            cuts.append([(start, stop) for _, start, stop in pieces])
            deliver(pieces, *answer(pieces), version=7)
        return big, cuts, split, await big.future, await after.future

    big, cuts, split, (logits, values, version), small = asyncio.run(main())
    assert cuts == [[(0, 64)], [(64, 128)], [(128, 150), (0, 3)]]
    assert split == [False, True, True]
    np.testing.assert_array_equal(logits, big.features[:, :65])
    np.testing.assert_array_equal(values, big.features[:, :8])
    assert version == 7 and small[2] == 7 and not big.parts


def test_given_up_requests_at_the_head_are_dropped_and_a_failed_one_leaves_the_queue():
    async def main():
        loop = asyncio.get_running_loop()
        queue = RequestQueue(max_batch=8)
        gone, kept, failed = (
            Request(features(n, seed=n), loop.create_future(), 0.0) for n in (4, 5, 20)
        )
        for request in (gone, kept, failed):
            queue.put(request)
        gone.future.cancel()
        queue.drop_cancelled()
        assert queue.head is kept and queue.rows == 25
        pieces = queue.take_batch()
        assert rows_of(pieces) == [(id(kept), 0, 5)]  # the 20 rows would pass max_batch
        deliver(pieces, *answer(pieces), version=0)
        pieces = queue.take_batch()  # the first 8 rows of the 20
        queue.fail(failed, RuntimeError("forward pass failed"))
        assert rows_of(pieces) == [(id(failed), 0, 8)] and not queue and queue.rows == 0
        return await kept.future, failed.future.exception()

    (logits, _, _), error = asyncio.run(main())
    assert logits.shape == (5, 65) and isinstance(error, RuntimeError)
