"""The GPU measurements behind ``make gpu-check`` (:mod:`blobrl.bench.gpu_check`).

Each runs the project's own code on a CUDA device, untimed warm-up first:

* :func:`inference_sweep`: the default ``mlp`` and ``transformer`` networks, bf16 autocast, at
  each batch size: through an in-process :class:`~blobrl.inference.InferenceServer`
  (``max_batch`` = the batch size, two callers each resending a batch of that many rows as
  soon as it is answered: numpy in, numpy out, host-device copies included), once with float
  rows and once bit-packed as clients send them (the server unpacks those on the GPU), and the
  bare model in a loop on inputs already on the device (:func:`blobrl.nn.forward_evals_per_s`).
* :func:`learner_rates`: :meth:`blobrl.learner.Learner.train_step` under AMP
  (``learner.amp: auto``) at the default batch size, on real self-play positions sampled from
  a :class:`~blobrl.replay.ReplayBuffer`, each batch copied from the host as in a run.
* :func:`selfplay_on_server`: on a local Ray, one self-play actor per core but one (5x7 hands at
  3 x 30, the config's games in flight and game groups behind a server) against one GPU
  InferenceServer actor with the config's ``max_batch``/``max_wait_ms``, for a set time after a
  warm-up; the server's counters and the GPU's utilization are read over the same window.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blobrl.bench.gpu_busy import BusySampler, find_reader
from blobrl.config import InferenceConfig, SelfPlayConfig
from blobrl.nn import NetworkConfig

BATCH_SIZES = (256, 512, 1024, 2048, 4096, 8192)
ARCHS: Mapping[str, NetworkConfig] = {
    "mlp": NetworkConfig(),
    "transformer": NetworkConfig(arch="transformer"),
}
SERVER_CALLERS = 2  # one batch on the GPU while the next is staged
PLAYERS, CARDS = 5, 7
DETERMINIZATIONS, SIMULATIONS = 3, 30
TIMEOUT_S = 600.0  # a Ray call that takes longer fails the measurement instead of hanging


@dataclass(frozen=True)
class InferenceSweep:
    """Positions evaluated per second, by architecture and then batch size (a string, as JSON
    keys are)."""

    served: dict[str, dict[str, float]]  # through the InferenceServer, float rows
    packed: dict[str, dict[str, float]]  # through the InferenceServer, bit-packed rows
    forward: dict[str, dict[str, float]]  # the bare model, inputs on the device


@dataclass(frozen=True)
class LearnerRates:
    samples_per_s: dict[str, float]  # by architecture: batch_size x optimizer steps per second
    amp_dtype: str  # autocast dtype of the steps ("bfloat16", "float16" or "float32")
    batch_size: int


@dataclass(frozen=True)
class SelfPlayOnGpu:
    # Steady-state hands per minute of all actors: decisions searched in the window per
    # minute, over the decisions a finished hand took (``decisions_per_game``).
    games_per_min: float
    games_finished: int  # hands that ended within the window (all actors)
    decisions_per_game: float  # searched decisions per finished hand (forced moves not searched)
    actors: int
    seconds: float  # the timed window
    mean_batch_rows: float  # server rows per forward pass over the window
    evals_per_s: float  # server rows per second over the window
    busy_share: float | None  # mean utilization of the busiest GPU over the window, in [0, 1]
    busy_method: str  # "nvml" or "nvidia-smi"; without busy_share, why there is none
    shared_memory_channels: int  # actors whose leaf batches went through shared memory


# -- inference -------------------------------------------------------------------------------


def served_evals_per_s(
    model, *, rows: int, seconds: float, device: str, packed: bool = False
) -> float:
    """Rows per second of an in-process InferenceServer over ``model`` answering batches of
    ``rows`` rows, one forward pass each (see the module doc), over at least ``seconds`` after
    every caller's first answer; ``packed``: the rows sent bit-packed, as clients send them."""
    from blobrl.bench.inference import server_evals_per_s

    return server_evals_per_s(
        model,
        seconds=seconds,
        callers=SERVER_CALLERS,
        rows=rows,
        packed=packed,
        device=device,
        max_batch=rows,
    )


def inference_sweep(
    *,
    device: str = "cuda",
    batch_sizes: Sequence[int] = BATCH_SIZES,
    seconds: float = 1.0,
    archs: Mapping[str, NetworkConfig] = ARCHS,
) -> InferenceSweep:
    """Every architecture at every batch size, each rate over at least ``seconds``."""
    import torch

    from blobrl.nn import build_network, forward_evals_per_s

    served: dict[str, dict[str, float]] = {}
    packed: dict[str, dict[str, float]] = {}
    forward: dict[str, dict[str, float]] = {}
    for name, config in archs.items():
        torch.manual_seed(0)
        model = build_network(config)
        served[name], packed[name], forward[name] = {}, {}, {}
        for rows in batch_sizes:
            forward[name][str(rows)] = forward_evals_per_s(
                model, batch_size=rows, seconds=seconds, device=device
            )
            served[name][str(rows)] = served_evals_per_s(
                model, rows=rows, seconds=seconds, device=device
            )
            packed[name][str(rows)] = served_evals_per_s(
                model, rows=rows, seconds=seconds, device=device, packed=True
            )
        del model
        _release(device)
    return InferenceSweep(served=served, packed=packed, forward=forward)


# -- learner ---------------------------------------------------------------------------------


def training_batches(batch_size: int, *, count: int = 4, seed: int = 0) -> list:
    """``count`` :class:`~blobrl.learner.TrainingBatch` es of real 5x7 positions: hands played
    with a uniform evaluator and a tiny search into a replay buffer, then sampled."""
    from blobrl.mcts import SearchSettings, uniform_evaluator
    from blobrl.replay import ReplayBuffer
    from blobrl.selfplay import GameSpec, SelfPlayWorker

    worker = SelfPlayWorker(uniform_evaluator, settings=SearchSettings(1, 4), games_in_flight=32)
    buffer = ReplayBuffer(100_000)
    specs = [GameSpec(PLAYERS, CARDS, seed=seed + i, game_id=i) for i in range(64)]
    for record in worker.play(specs):
        buffer.add_game(record)
    rng = np.random.default_rng(seed)
    return [buffer.sample(batch_size, rng) for _ in range(count)]


def learner_rates(
    *,
    device: str = "cuda",
    seconds: float = 3.0,
    archs: Mapping[str, NetworkConfig] = ARCHS,
    batch_size: int | None = None,
    warmup_steps: int = 3,
) -> LearnerRates:
    """Training samples per second of each architecture (see the module doc)."""
    import torch

    from blobrl.learner import Learner, LearnerConfig
    from blobrl.nn import build_network

    config = LearnerConfig(warmup_iterations=0)
    if batch_size is not None:
        config = LearnerConfig(warmup_iterations=0, batch_size=batch_size)
    batches = training_batches(config.batch_size)
    rates: dict[str, float] = {}
    amp = "float32"
    for name, network in archs.items():
        torch.manual_seed(0)
        learner = Learner(build_network(network), config, total_iterations=1, device=device)
        amp = str(learner.amp_dtype or torch.float32).removeprefix("torch.")
        for batch in batches[:warmup_steps]:
            learner.train_step(batch)
        steps, start = 0, time.perf_counter()
        while True:
            # train_step reads its losses back to the host: every step ends synchronized.
            learner.train_step(batches[steps % len(batches)])
            steps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        rates[name] = steps * config.batch_size / elapsed
        del learner
        _release(device)
    return LearnerRates(samples_per_s=rates, amp_dtype=amp, batch_size=config.batch_size)


# -- self-play against a GPU server ------------------------------------------------------------


class GpuSelfPlay:
    """A self-play actor behind an InferenceServer handle, as a run makes one (plain class;
    :func:`selfplay_on_server` makes it a Ray actor)."""

    def __init__(self, server, config: SelfPlayConfig) -> None:
        import torch

        from blobrl.actors.inference import RemoteEvaluator
        from blobrl.mcts import SearchSettings
        from blobrl.selfplay import SelfPlayWorker

        torch.set_num_threads(1)
        self.worker = SelfPlayWorker(
            RemoteEvaluator(server),
            settings=SearchSettings(determinizations=DETERMINIZATIONS, simulations=SIMULATIONS),
            games_in_flight=config.games_in_flight,
            game_groups=config.groups(server=True),
        )

    def play_window(self, warm_s: float, seconds: float, seed: int) -> tuple[int, int, int, int]:
        """See :func:`blobrl.bench.window.play_window` (5x7 hands)."""
        from blobrl.bench.window import play_window

        return play_window(self.worker, warm_s, seconds, seed, players=PLAYERS, cards=CARDS)


def selfplay_on_server(
    *,
    seconds: float = 120.0,
    actors: int | None = None,
    warm_s: float = 10.0,
    device: str = "cuda",
    network: NetworkConfig | None = None,
    selfplay: SelfPlayConfig | None = None,
    inference: InferenceConfig | None = None,
) -> SelfPlayOnGpu:
    """One actor per core but one (or ``actors``) against one InferenceServer on ``device``, as a
    run places them (the core left is the server's); see the module doc. The defaults are the
    run's (``NetworkConfig()``, ``SelfPlayConfig()``, ``InferenceConfig()``, a GPU); others are
    for trying the code out on a small machine or comparing settings."""
    import ray
    import torch

    from blobrl.actors.compose import gpu_server_cpus
    from blobrl.actors.inference import InferenceServerActor

    cores = os.cpu_count() or 1
    gpus = 1 if device.startswith("cuda") else 0
    server_cpus = gpu_server_cpus(cores) if gpus else 0  # the server's core, as a run holds it
    count = actors or max(1, cores - 1)
    inference = inference or InferenceConfig()
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=max(cores, count + server_cpus),
            num_gpus=torch.cuda.device_count(),
            include_dashboard=False,
            log_to_driver=False,
        )
    try:
        server = InferenceServerActor.options(num_cpus=server_cpus, num_gpus=gpus).remote(
            network or NetworkConfig(),
            device=device,
            max_batch=inference.batch_rows(device),
            max_wait_ms=inference.max_wait_ms,
        )
        actor_cls: Any = ray.remote(num_cpus=1)(GpuSelfPlay)  # (its methods are Ray's to type)
        handles = [actor_cls.remote(server, selfplay or SelfPlayConfig()) for _ in range(count)]
        # Compiles the search (numba's cache aside) and starts every process before timing.
        warmup = [h.play_window.remote(0.0, 2.0, 900_000 + i) for i, h in enumerate(handles)]
        ray.get(warmup, timeout=TIMEOUT_S)
        reader, method = find_reader() if gpus else (None, f"the server is on {device}")
        timed = [
            h.play_window.remote(warm_s, seconds, 10_000 * (i + 1)) for i, h in enumerate(handles)
        ]
        time.sleep(warm_s)
        before, t0 = ray.get(server.stats.remote(), timeout=TIMEOUT_S), time.perf_counter()
        sampler = BusySampler(reader) if reader is not None else None
        if sampler is not None:
            sampler.start()
        time.sleep(seconds)
        after, t1 = ray.get(server.stats.remote(), timeout=TIMEOUT_S), time.perf_counter()
        busy = sampler.stop() if sampler is not None else None
        played = ray.get(timed, timeout=TIMEOUT_S + warm_s + seconds)
        channels = int(ray.get(server.channels_attached.remote(), timeout=TIMEOUT_S))
        for handle in [*handles, server]:
            ray.kill(handle)
    finally:
        if started:
            ray.shutdown()
    rows, batches = after.rows - before.rows, after.batches - before.batches
    searched, in_window, games, positions = (sum(column) for column in zip(*played, strict=True))
    if games == 0:
        raise RuntimeError(
            f"no hand finished in {warm_s + seconds:.0f} s of self-play: too short a window to "
            f"know the decisions a hand takes (--selfplay-seconds); the server evaluated "
            f"{rows / (t1 - t0):,.0f} positions/s in batches of {rows / max(batches, 1):,.0f} "
            f"rows, {searched:,} decisions searched"
        )
    return SelfPlayOnGpu(
        games_per_min=searched / (positions / games) / seconds * 60.0,
        games_finished=in_window,
        decisions_per_game=positions / games,
        actors=count,
        seconds=seconds,
        mean_batch_rows=rows / batches if batches else 0.0,
        evals_per_s=rows / (t1 - t0),
        busy_share=busy,
        busy_method=method if busy is not None or sampler is None else f"{method}: no samples",
        shared_memory_channels=channels,
    )


def _release(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
