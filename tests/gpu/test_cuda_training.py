"""The network and the learner on a CUDA device: the evaluator answers as on the CPU, the
learner trains under both autocast dtypes, and a learner's state carries the CUDA random
stream. Marked ``gpu`` and kept in this folder, which ``make gpu-check`` runs (a GPU image need
not have what the rest of the suite imports)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blobrl.actors.learner import LearnerService
from blobrl.bench.gpu import training_batches
from blobrl.bench.gpu_check import no_cuda_reason
from blobrl.learner import Learner, LearnerConfig
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason=no_cuda_reason() or ""),
]

CONFIGS = {
    "mlp": NetworkConfig(),
    "transformer": NetworkConfig(arch="transformer", embed=32, layers=2, heads=4),
}
SMALL_NET = NetworkConfig(hidden=64, blocks=1, value_head="direct")


@pytest.fixture(scope="module")
def batch():
    """64 real 5x7 self-play positions with their targets."""
    return training_batches(64, count=1)[0]


@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_evaluator_on_cuda_matches_cpu_closely(arch, batch):
    torch.manual_seed(8)
    model = build_network(CONFIGS[arch])
    cpu_logits, cpu_values = TorchEvaluator(model)(batch.features)
    gpu = TorchEvaluator(build_network(CONFIGS[arch]), device="cuda")
    gpu.set_weights(model.state_dict(), version=1)
    gpu_logits, gpu_values = gpu(batch.features)
    assert gpu_logits.dtype == np.float32 and gpu_values.dtype == np.float32
    np.testing.assert_allclose(gpu_values, cpu_values, atol=0.02)
    np.testing.assert_allclose(gpu_logits, cpu_logits, atol=0.1)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_learner_trains_under_cuda_autocast(amp, batch):
    torch.manual_seed(0)
    learner = Learner(
        build_network(SMALL_NET),
        LearnerConfig(warmup_iterations=0, amp=amp),
        total_iterations=10,
        device="cuda",
    )
    assert learner.scaler.is_enabled() == (amp == "fp16")
    taken = [m for m in (learner.train_step(batch) for _ in range(40)) if not m.skipped]
    assert len(taken) >= 30
    assert taken[-1].total_loss < taken[0].total_loss
    state = learner.state_dict()
    assert all(t.device.type == "cpu" for t in state["model"].values())


def test_a_learner_state_carries_the_cuda_random_state():
    service = LearnerService(
        SMALL_NET,
        LearnerConfig(warmup_iterations=0),
        total_iterations=2,
        replay=None,
        device="cuda",
    )
    state = service.state()
    expected = torch.rand(8, device="cuda")
    torch.rand(1000, device="cuda")  # the stream moves on ...
    service.load_state(state)  # ... and a loaded checkpoint puts it back
    assert torch.equal(torch.rand(8, device="cuda"), expected)
