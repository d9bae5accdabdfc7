"""InferenceClient over a fake link: a leaf batch goes in wire-sized requests and comes back
whole and in order, a request without an answer is sent again, a lost network is loaded again;
and the package runs without Ray."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import Future

import numpy as np
import pytest

from blobrl.inference import (
    SINGLE_REQUEST_ROWS,
    WIRE_ROWS,
    InferenceClient,
    ModelNotLoaded,
    NoAnswer,
    pack_rows,
    unpack_request,
)

from .nets import features


def rowwise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in network: each row's answer is a fixed function of that row alone."""
    return x[:, :65] * 2.0 - 1.0, x[:, 65:73] + 0.25


class FakeLink:
    """Answers requests at once from :func:`rowwise`; the first ``lose`` gathers get no answer
    and ``lost`` names the networks the server does not hold."""

    def __init__(self, *, versions=(3,), lose: int = 0, lost: set[str] | None = None):
        self.versions = list(versions)  # the version of each answer in turn (the last repeats)
        self.lose = lose
        self.lost = lost or set()
        self.sent: list[tuple[int, str | None]] = []  # (rows, model) of every request
        self.cancelled = 0
        self.asked_version = 0

    def version(self) -> int:
        self.asked_version += 1
        return 1

    def send(self, bits, cont, model):
        self.sent.append((len(bits), model))
        version = self.versions.pop(0) if len(self.versions) > 1 else self.versions[0]
        return unpack_request(bits, cont), model, version

    def gather(self, pending, timeout_s):
        if self.lose > 0:
            self.lose -= 1
            raise NoAnswer(f"no answer in {timeout_s} s")
        answers = []
        for rows, model, version in pending:
            if model in self.lost:
                raise ModelNotLoaded(model)
            answers.append((*rowwise(rows), version))
        return answers

    def cancel(self, pending):
        self.cancelled += len(pending)

    def future(self, pending):
        """Done at once: this link answers as it is asked."""
        done = Future()
        done.set_result(None)
        return done


class SlowLink(FakeLink):
    """A FakeLink whose answers are in only when ``arrive()`` is called (its futures done);
    until then a gather finds none."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.futures: list[Future] = []

    def future(self, pending):
        self.futures.append(Future())
        return self.futures[-1]

    def arrive(self) -> None:
        for future in self.futures:
            if not future.done():
                future.set_result(None)

    def gather(self, pending, timeout_s):
        if not all(f.done() for f in self.futures[-len(pending) :]):
            raise NoAnswer("not yet")
        return super().gather(pending, timeout_s)


def test_a_leaf_batch_goes_in_wire_sized_requests_and_comes_back_whole_in_order():
    x = features(2 * WIRE_ROWS + 17, seed=7)
    link = FakeLink(versions=(4, 5, 4))  # the requests straddled a weight swap
    client = InferenceClient(link)
    logits, values = client(x)
    expected = rowwise(x)
    np.testing.assert_array_equal(logits, expected[0])
    np.testing.assert_array_equal(values, expected[1])
    assert link.sent == [(WIRE_ROWS, None), (WIRE_ROWS, None), (17, None)]
    assert client.version == 5 and link.asked_version == 0  # the newest weights answered


def test_a_leaf_batch_above_the_single_request_size_goes_as_one_request():
    # Many inline calls cost more than one call through the object store: a large batch is
    # sent whole, and its answer is still every row in order.
    for rows, sent in (
        (SINGLE_REQUEST_ROWS, [WIRE_ROWS] * (SINGLE_REQUEST_ROWS // WIRE_ROWS)),
        (SINGLE_REQUEST_ROWS + 1, [SINGLE_REQUEST_ROWS + 1]),
        (3 * SINGLE_REQUEST_ROWS, [3 * SINGLE_REQUEST_ROWS]),
    ):
        x = features(rows, seed=rows)
        link = FakeLink()
        logits, values = InferenceClient(link)(x)
        np.testing.assert_array_equal(logits, rowwise(x)[0])
        np.testing.assert_array_equal(values, rowwise(x)[1])
        chunks = [size for size, _ in link.sent]
        assert chunks[: len(sent)] == sent and sum(chunks) == rows


def test_the_version_is_asked_of_the_server_once_before_the_first_answer():
    link = FakeLink()
    client = InferenceClient(link)
    assert client.version == 1 and client.version == 1 and link.asked_version == 1


def test_an_empty_leaf_batch_sends_nothing():
    link = FakeLink()
    logits, values = InferenceClient(link)(features(0, seed=0))
    assert logits.shape == (0, 65) and values.shape == (0, 8) and link.sent == []


def test_a_request_without_an_answer_in_time_is_cancelled_and_sent_again():
    link = FakeLink(lose=2)
    client = InferenceClient(link, timeout_s=0.01)
    x = features(5, seed=1)
    np.testing.assert_array_equal(client(x)[0], rowwise(x)[0])
    assert client.resent == 2 and link.cancelled == 2 and len(link.sent) == 3


def test_a_network_the_server_lost_is_loaded_again_and_the_request_resent():
    link = FakeLink(lost={"arena"})
    loads = []

    def reload() -> None:
        loads.append(1)
        link.lost.clear()

    client = InferenceClient(link, model="arena", reload=reload)
    x = features(4, seed=2)
    np.testing.assert_array_equal(client(x)[1], rowwise(x)[1])
    assert client.reloaded == 1 and len(loads) == 1
    assert link.sent == [(4, "arena"), (4, "arena")]


def test_without_a_way_to_reload_a_lost_network_the_caller_is_told():
    client = InferenceClient(FakeLink(lost={"arena"}), model="arena")
    with pytest.raises(ModelNotLoaded):
        client(features(3, seed=3))


def test_the_inference_package_imports_without_ray():
    code = "import sys, blobrl.inference; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_rows_already_packed_go_as_they_are_in_the_same_requests():
    x = features(2 * WIRE_ROWS + 17, seed=5)
    bits, cont = pack_rows(x)
    link = FakeLink()
    logits, values = InferenceClient(link).packed_rows(bits, cont)
    np.testing.assert_array_equal(logits, rowwise(x)[0])
    np.testing.assert_array_equal(values, rowwise(x)[1])
    assert link.sent == [(WIRE_ROWS, None), (WIRE_ROWS, None), (17, None)]


def test_a_started_call_gives_the_whole_answer_in_order_once_every_part_is_in():
    x = features(2 * WIRE_ROWS + 17, seed=9)
    link = SlowLink(versions=(4, 6, 5))
    client = InferenceClient(link)
    assert client.asynchronous
    call = client.start((x,))
    assert [rows for rows, _ in link.sent] == [WIRE_ROWS, WIRE_ROWS, 17]  # sent at once
    assert call.poll() is None and call.poll() is None  # no answer yet: nothing waits
    link.futures[0].set_result(None)
    assert call.poll() is None  # one part of three is not an answer
    link.arrive()
    logits, values = call.poll()
    np.testing.assert_array_equal(logits, rowwise(x)[0])
    np.testing.assert_array_equal(values, rowwise(x)[1])
    assert client.version == 6 and len(link.sent) == 3  # nothing sent twice


def test_a_started_call_of_packed_rows_sends_them_as_they_are():
    x = features(WIRE_ROWS + 3, seed=4)
    link = FakeLink()
    logits, _ = InferenceClient(link).start(pack_rows(x)).poll()
    np.testing.assert_array_equal(logits, rowwise(x)[0])
    assert link.sent == [(WIRE_ROWS, None), (3, None)]


def test_a_started_call_without_an_answer_by_its_deadline_is_sent_again():
    link = SlowLink()
    client = InferenceClient(link, timeout_s=0.05)
    x = features(5, seed=1)
    call = client.start((x,))
    assert call.poll() is None
    time.sleep(0.06)
    assert call.poll() is None  # past the deadline: cancelled and sent again
    assert client.resent == 1 and link.cancelled == 1 and len(link.sent) == 2
    assert call.deadline > time.monotonic()  # a new deadline for the new request
    link.arrive()
    np.testing.assert_array_equal(call.poll()[0], rowwise(x)[0])


def test_a_started_call_to_a_lost_network_loads_it_again_and_sends_again():
    link = FakeLink(lost={"arena"})
    client = InferenceClient(link, model="arena", reload=link.lost.clear)
    x = features(3, seed=2)
    call = client.start((x,))
    assert call.poll() is None and client.reloaded == 1
    np.testing.assert_array_equal(call.poll()[1], rowwise(x)[1])
    with pytest.raises(ModelNotLoaded):  # and with no way to load it, the caller is told
        InferenceClient(FakeLink(lost={"arena"}), model="arena").start((x,)).poll()


def test_a_client_over_a_link_that_cannot_tell_when_an_answer_is_in_is_not_asynchronous():
    class Blocking(FakeLink):
        future = None

    assert not InferenceClient(Blocking()).asynchronous
