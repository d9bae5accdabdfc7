"""The InferenceServer on a CUDA device answers as it does on the CPU, within bf16's precision,
and takes the weights a CUDA learner publishes. Marked ``gpu``: ``make gpu-check`` runs them."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch

from blobrl.actors.learner import LearnerService
from blobrl.actors.replay import ReplayService
from blobrl.bench.gpu import ARCHS
from blobrl.bench.gpu_check import no_cuda_reason
from blobrl.game import encode, new_game
from blobrl.inference import InferenceServer, pack_rows
from blobrl.learner import LearnerConfig
from blobrl.mcts import SearchSettings, uniform_evaluator
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network, bytes_to_state_dict
from blobrl.remote import LocalHandle
from blobrl.selfplay import GameSpec, SelfPlayWorker

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason=no_cuda_reason() or ""),
]

# bf16 autocast against float32 (tests/nn use the same bounds for the bare evaluator).
VALUE_ATOL, LOGIT_ATOL = 0.02, 0.1


def positions(count: int, *, seed: int = 0) -> np.ndarray:
    """``float32[count, FEATURES]`` encoded positions of random 5x7 hands, 0..30 moves in."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        state = new_game(5, 7, seed=seed * 10_000 + i)
        for _ in range(int(rng.integers(0, 30))):
            if state.is_terminal():
                break
            state.apply(int(rng.choice(state.legal_actions())))
        if state.is_terminal():
            state = new_game(5, 7, seed=seed * 10_000 + i)
        rows.append(encode(state))
    return np.stack(rows)


async def answers(server: InferenceServer, requests: list[np.ndarray]):
    try:
        return await asyncio.gather(*(server.evaluate(x) for x in requests))
    finally:
        await server.close()


def assert_close_to_cpu(got, expected) -> None:
    for (logits, values), (cpu_logits, cpu_values) in zip(got, expected, strict=True):
        assert logits.dtype == np.float32 and values.dtype == np.float32
        np.testing.assert_allclose(values, cpu_values, atol=VALUE_ATOL)
        np.testing.assert_allclose(logits, cpu_logits, atol=LOGIT_ATOL)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_a_cuda_server_answers_each_caller_as_the_cpu_does(arch):
    torch.manual_seed(3)
    model = build_network(ARCHS[arch])
    cpu = TorchEvaluator(model)
    # A request larger than max_batch runs in pieces over consecutive batches.
    requests = [positions(n, seed=n) for n in (1, 37, 256, 700)]
    expected = [cpu(x) for x in requests]
    gpu_model = build_network(ARCHS[arch])
    gpu_model.load_state_dict(model.state_dict())
    server = InferenceServer(gpu_model, device="cuda", max_batch=256)
    assert_close_to_cpu(asyncio.run(answers(server, requests)), expected)
    stats = server.stats()
    assert stats.device.startswith("cuda") and stats.gpu_memory_bytes > 0
    assert stats.rows == sum(len(x) for x in requests) and stats.batches >= 4


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_packed_requests_unpacked_on_the_gpu_are_answered_as_the_cpu_does(arch):
    """Leaf batches as channels send them stay packed to the GPU and are unpacked there; mixed
    with a float request, the batch is unpacked on the host instead. Either way the answers are
    the CPU's for the float rows."""
    torch.manual_seed(4)
    model = build_network(ARCHS[arch])
    cpu = TorchEvaluator(model)
    requests = [positions(n, seed=40 + n) for n in (3, 120, 300, 600)]
    expected = [cpu(x) for x in requests]
    gpu_model = build_network(ARCHS[arch])
    gpu_model.load_state_dict(model.state_dict())

    async def served(server: InferenceServer, float_rows: bool):
        calls = [server.evaluate_packed(*pack_rows(x)) for x in requests]
        if float_rows:
            calls[1] = server.evaluate_versioned(requests[1])
        try:
            return [answer[:2] for answer in await asyncio.gather(*calls)]
        finally:
            await server.close()

    for float_rows in (False, True):
        server = InferenceServer(gpu_model, device="cuda", max_batch=512, max_wait_ms=20.0)
        assert_close_to_cpu(asyncio.run(served(server, float_rows)), expected)


def test_weights_a_cuda_learner_publishes_serve_from_a_cuda_server():
    worker = SelfPlayWorker(uniform_evaluator, settings=SearchSettings(1, 4), games_in_flight=8)
    buffer = ReplayService(10_000, seed=0)
    held = buffer.add_games(worker.play([GameSpec(5, 7, seed=i, game_id=i) for i in range(16)]))
    network = NetworkConfig()
    replay = LocalHandle(buffer, "replay")
    service = LearnerService(
        network,
        LearnerConfig(warmup_iterations=0, batch_size=256, steps_per_iteration=8),
        total_iterations=2,
        replay=replay,
        device="cuda",
    )
    try:
        metrics = service.train_iteration(1, positions=held)
    finally:
        replay.shutdown()
    bf16 = torch.cuda.is_bf16_supported()
    assert service.learner.amp_dtype == (torch.bfloat16 if bf16 else torch.float16)
    assert metrics.steps == 8 and np.isfinite(metrics.total_loss)
    weights, version = service.weights_bytes()
    assert version == 1

    cpu_model = build_network(network)
    cpu_model.load_state_dict(bytes_to_state_dict(weights))
    requests = [positions(300, seed=5)]
    expected = [TorchEvaluator(cpu_model)(x) for x in requests]

    async def published():
        server = InferenceServer(network, device="cuda")
        await server.set_weights(weights, version)
        assert server.version == 1
        return await answers(server, requests)

    assert_close_to_cpu(asyncio.run(published()), expected)
