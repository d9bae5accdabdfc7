"""InferenceServer benchmarks: throughput under load against the bare model, and where
inference should run when the cluster has only CPUs.

``inference_evals_per_s`` drives an in-process :class:`InferenceServer` (no Ray, so the number
isolates the batching itself) with several concurrent callers, each sending 384-row leaf batches
(128 games x 3 worlds, the self-play size) as soon as its last one is answered; the default
network on the CPU, one torch thread. ``inference_packed_evals_per_s`` is the same load sent as
clients send it, bit-packed (the server unpacks it into its staging rows).
``forward_evals_per_s`` is the bare model in a loop at the same 384 rows, and
``inference_vs_forward``, ``inference_packed_vs_forward`` the ratios.

The full run adds a short local Ray run on all of this machine's cores (``quick`` skips it):
``inference_ray_evals_per_s``, the same load through a server actor from caller threads; and
self-play games/min of two self-play actors (32 hands of 5x7 each at 3 x 30, one torch thread
per actor) with the network in each actor (``placement_local_games_per_min``) against one
shared server actor (``placement_server_games_per_min``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from contextlib import contextmanager

import numpy as np

from blobrl.game import FEATURES

LEAF_ROWS = 384  # 128 games in flight x 3 determinizations
CALLERS = 4
TIMEOUT_S = 300.0  # a Ray step that takes longer than this fails the suite instead of hanging
PLAYERS, CARDS = 5, 7


def _leaf_batches(count: int, rows: int = LEAF_ROWS) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [(rng.random((rows, FEATURES)) < 0.05).astype(np.float32) for _ in range(count)]


async def _drive(
    server, inputs: list[np.ndarray], seconds: float, *, packed: bool = False
) -> float:
    """Rows per second that ``server`` answers with one caller per input, each resending its
    batch as soon as it is answered, over at least ``seconds``; ``packed``: as leaf batches
    travel from a client (:func:`~blobrl.inference.pack_rows`), else as float rows."""
    from blobrl.inference import pack_rows

    done = 0
    requests = [pack_rows(x) for x in inputs] if packed else [(x,) for x in inputs]

    def ask(request):
        return server.evaluate_packed(*request) if packed else server.evaluate(*request)

    async def caller(request) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await ask(request)
            done += request[0].shape[0]

    await asyncio.gather(*(ask(r) for r in requests))  # warm up
    start = time.perf_counter()
    stop = start + seconds  # after the warm-up, which may take longer than ``seconds``
    await asyncio.gather(*(caller(r) for r in requests))
    return done / (time.perf_counter() - start)


def server_evals_per_s(
    model,
    *,
    seconds: float,
    callers: int = CALLERS,
    rows: int = LEAF_ROWS,
    packed: bool = False,
    **server_kwargs,
) -> float:
    """Throughput of an in-process server over ``model`` under ``callers`` concurrent callers
    of ``rows`` rows each (``packed``: sending leaf batches packed, as clients do)."""
    from blobrl.inference import InferenceServer

    async def main() -> float:
        server = InferenceServer(model, **server_kwargs)
        try:
            return await _drive(server, _leaf_batches(callers, rows), seconds, packed=packed)
        finally:
            await server.close()

    return asyncio.run(main())


def inference(quick: bool) -> dict[str, float]:
    """The server under load against the bare model (one thread, CPU); see the module doc."""
    import torch

    from blobrl.nn import NetworkConfig, build_network, forward_evals_per_s

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = build_network(NetworkConfig())
        seconds = 0.4 if quick else 1.0
        # Interleaved rounds, best of each: other load on the machine hits both sides alike.
        forward = served = packed = 0.0
        for _ in range(3):
            forward = max(
                forward, forward_evals_per_s(model, batch_size=LEAF_ROWS, seconds=seconds)
            )
            served = max(served, server_evals_per_s(model, seconds=seconds, device="cpu"))
            packed = max(
                packed, server_evals_per_s(model, seconds=seconds, device="cpu", packed=True)
            )
    finally:
        torch.set_num_threads(threads)
    results = {
        "inference_evals_per_s": served,
        "inference_packed_evals_per_s": packed,
        "inference_forward_evals_per_s": forward,
        "inference_vs_forward": served / forward,
        "inference_packed_vs_forward": packed / forward,
    }
    if not quick:
        results.update(_ray_measurements())
    return results


# -- a short run on a local Ray ------------------------------------------------------------


@contextmanager
def _all_cores():
    """Undo the benchmark's pinning to one CPU while Ray starts, so that its workers (which
    inherit the affinity of the process that starts them) may use every core."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    pinned = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
        yield
    finally:
        os.sched_setaffinity(0, pinned)


class _SelfPlayBench:
    """A self-play actor for the placement comparison: local network or a server handle."""

    def __init__(self, network, server=None) -> None:
        import torch

        from blobrl.actors.inference import RemoteEvaluator
        from blobrl.mcts import SearchSettings
        from blobrl.nn import TorchEvaluator, build_network
        from blobrl.selfplay import SelfPlayWorker

        torch.set_num_threads(1)
        evaluator = (
            RemoteEvaluator(server)
            if server is not None
            else TorchEvaluator(build_network(network))
        )
        self.worker = SelfPlayWorker(
            evaluator, settings=SearchSettings(determinizations=3, simulations=30)
        )

    def play(self, games: int, seed: int) -> float:
        """Plays ``games`` 5x7 hands, all in flight at once; returns the wall seconds."""
        from blobrl.selfplay import GameSpec

        self.worker.games_in_flight = games
        start = time.perf_counter()
        self.worker.play([GameSpec(PLAYERS, CARDS, seed=seed + i) for i in range(games)])
        return time.perf_counter() - start

    def play_for(self, seconds: float, seed: int, in_flight: int) -> int:
        """Plays 5x7 hands for ``seconds``, ``in_flight`` at a time, a new one starting as each
        ends (as a self-play actor does in a run); returns the hands finished in that time."""
        from blobrl.selfplay import GameSpec

        self.worker.games_in_flight = in_flight
        deadline = time.perf_counter() + seconds
        specs = (GameSpec(PLAYERS, CARDS, seed=seed + i) for i in itertools.count())
        finished = 0
        for _ in self.worker.play_iter(specs, should_stop=lambda: time.perf_counter() >= deadline):
            if time.perf_counter() < deadline:
                finished += 1
        return finished


def _placement_games_per_min(ray, network, server, *, games: int) -> float:
    actor_cls = ray.remote(num_cpus=1)(_SelfPlayBench)
    actors = [actor_cls.remote(network, server) for _ in range(2)]
    warmup = [a.play.remote(2, seed=900_000 + 10 * i) for i, a in enumerate(actors)]
    ray.get(warmup, timeout=TIMEOUT_S)
    start = time.perf_counter()
    timed = [a.play.remote(games, seed=1_000 * (i + 1)) for i, a in enumerate(actors)]
    ray.get(timed, timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - start
    for actor in actors:
        ray.kill(actor)
    return 2 * games / elapsed * 60.0


def _ray_evals_per_s(ray, server, *, seconds: float) -> float:
    from blobrl.actors.inference import RemoteEvaluator

    inputs = _leaf_batches(CALLERS)
    evaluators = [RemoteEvaluator(server) for _ in inputs]
    ray.get([server.evaluate.remote(x) for x in inputs], timeout=TIMEOUT_S)  # started and warm
    done = [0] * len(inputs)
    stop = time.perf_counter() + seconds

    def caller(i: int) -> None:
        while time.perf_counter() < stop:
            evaluators[i](inputs[i])
            done[i] += inputs[i].shape[0]

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(inputs))]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - start)


def _ray_measurements(*, games: int = 32, seconds: float = 3.0) -> dict[str, float]:
    import ray

    from blobrl.actors.inference import InferenceServerActor
    from blobrl.nn import NetworkConfig

    network = NetworkConfig()
    started = not ray.is_initialized()
    if started:
        with _all_cores():
            ray.init(include_dashboard=False, log_to_driver=False)
    try:
        server = InferenceServerActor.options(num_cpus=0).remote(
            network, device="cpu", torch_threads=1
        )
        ray_rate = _ray_evals_per_s(ray, server, seconds=seconds)
        served = _placement_games_per_min(ray, network, server, games=games)
        ray.kill(server)
        local = _placement_games_per_min(ray, network, None, games=games)
    finally:
        if started:
            ray.shutdown()
    return {
        "inference_ray_evals_per_s": ray_rate,
        "placement_server_games_per_min": served,
        "placement_local_games_per_min": local,
    }
