"""The InferenceServer as a Ray actor: two self-play workers share one, a leaf batch larger
than one request comes back whole, a server on the same machine is reached through shared
memory, lost requests are sent again and lost networks loaded again (the RemoteEvaluator over
a RayLink), and arenas play through it. The plain server and client
are tested without Ray in tests/inference."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from inference.nets import (
    SMALL,
    assert_rows_match,
    encoded_positions,
    features,
    reference,
    weight_bytes,
)

from blobrl.actors.evaluator import EvaluatorService
from blobrl.actors.inference import InferenceServerActor, RemoteEvaluator
from blobrl.inference import SINGLE_REQUEST_ROWS, WIRE_ROWS, ModelNotLoaded
from blobrl.inference.channel import SLOT_ROWS
from blobrl.mcts import SearchSettings
from blobrl.selfplay import GameSpec, SelfPlayWorker


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
        SMALL, weights=weight_bytes(0), version=4, device="cpu", max_wait_ms=20.0, torch_threads=1
    )
    evaluator = RemoteEvaluator(server, channel=False)  # every request through Ray
    x = encoded_positions(2 * WIRE_ROWS + 17, seed=7)
    assert_rows_match(evaluator(x), reference(0)(x))
    assert evaluator.version == 4
    stats = ray.get(server.stats.remote())
    assert stats.requests == 3 and stats.rows == x.shape[0]
    logits, values = evaluator(x[:0])
    assert logits.shape == (0, 65) and values.shape == (0, 8)
    # a batch too large for a few inline calls goes whole, through the object store
    big = encoded_positions(SINGLE_REQUEST_ROWS + 5, seed=8)
    assert_rows_match(evaluator(big), reference(0)(big))
    stats = ray.get(server.stats.remote())
    assert stats.requests == 4 and stats.rows == x.shape[0] + big.shape[0]
    ray.kill(server)


@pytest.mark.ray
def test_a_server_on_the_same_machine_is_reached_through_shared_memory(ray_session):
    """The default client maps a channel with a server of this machine: a leaf batch goes as
    one request a slot, answered exactly as through Ray; more rows than a slot take several."""
    ray = ray_session
    server = InferenceServerActor.remote(
        SMALL, weights=weight_bytes(0), version=4, device="cpu", max_wait_ms=1.0, torch_threads=1
    )
    evaluator = RemoteEvaluator(server)
    x = encoded_positions(2 * WIRE_ROWS + 17, seed=7)
    assert_rows_match(evaluator(x), reference(0)(x))
    assert evaluator.link.attached and evaluator.version == 4
    assert ray.get(server.channels_attached.remote()) == 1
    big = encoded_positions(SLOT_ROWS + 5, seed=8)
    assert_rows_match(evaluator(big), reference(0)(big))
    stats = ray.get(server.stats.remote())
    assert stats.requests == 3 and stats.rows == x.shape[0] + big.shape[0]
    assert evaluator.link.shared == 3 and evaluator.link.fell_back == 0
    ray.kill(server)


@pytest.mark.ray
def test_a_server_restarted_under_a_channel_is_heard_and_mapped_again(ray_session):
    """The server's process dies between two leaf batches: the client hears it within a
    second or so (not its 30 s timeout, and with no request waiting), and its next request maps a
    channel with the restarted server, which answers through it."""
    ray = ray_session
    # The weights go by a reference this test holds: a large argument Ray put in its object
    # store itself may be gone when the restart needs it (ray-project/ray#53727).
    weights = ray.put(weight_bytes(0))
    server = InferenceServerActor.options(max_restarts=1, max_task_retries=-1).remote(
        SMALL, weights=weights, version=4, device="cpu", max_wait_ms=1.0, torch_threads=1
    )
    evaluator = RemoteEvaluator(server)
    x = encoded_positions(50, seed=3)
    assert_rows_match(evaluator(x), reference(0)(x))
    first_pid = ray.get(server.__ray_call__.remote(lambda self: os.getpid()))
    ray.kill(server, no_restart=False)
    deadline = time.monotonic() + 10
    while evaluator.link.attached and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not evaluator.link.attached  # heard without a request waiting on it
    shared = evaluator.link.shared
    assert_rows_match(evaluator(x), reference(0)(x))
    assert ray.get(server.__ray_call__.remote(lambda self: os.getpid())) != first_pid
    assert evaluator.link.attached and evaluator.link.shared == shared + 1
    assert ray.get(server.channels_attached.remote()) == 1
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
    weights = ray.put(weight_bytes(1))

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
    candidate, best = weight_bytes(1), weight_bytes(2)
    arena = served.arena(candidate, best, iteration=4)
    assert ray.get(server.stats.remote()).rows > 0  # the arena's evaluations went to the server
    assert arena == own.arena(candidate, best, iteration=4)
    gauntlet = served.gauntlet(candidate, iteration=4)
    expected = own.gauntlet(candidate, iteration=4)
    assert gauntlet.to_dict()["matches"] == expected.to_dict()["matches"]
    assert ray.get(server.models.remote()) == []  # unloaded after each match
    ray.kill(server)


@pytest.mark.ray
def test_selfplay_against_a_server_on_this_machine_goes_through_shared_memory(ray_session):
    """The GPU check's self-play part, on the CPU with a small network: every actor maps a
    channel with the server, and hands are played through it."""
    from blobrl.bench import gpu
    from blobrl.config import SelfPlayConfig
    from blobrl.nn import NetworkConfig

    run = gpu.selfplay_on_server(
        seconds=8.0,
        actors=1,
        warm_s=2.0,
        device="cpu",
        network=NetworkConfig(hidden=32, blocks=1),
        selfplay=SelfPlayConfig(games_in_flight=16),  # hands that end within the window
    )
    assert run.shared_memory_channels == 1
    assert run.games_per_min > 0 and run.evals_per_s > 0 and run.mean_batch_rows > 0
