"""The measurements of ``make gpu-check`` on a CUDA device, at a small scale."""

from __future__ import annotations

import pytest
import torch

from blobrl.bench.gpu import inference_sweep, learner_rates
from blobrl.bench.gpu_busy import BusySampler, find_reader
from blobrl.bench.gpu_check import no_cuda_reason
from blobrl.nn import NetworkConfig

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason=no_cuda_reason() or ""),
]

SMALL = {"mlp": NetworkConfig(hidden=64, blocks=1)}


def test_the_inference_sweep_rates_every_batch_size_on_every_path():
    sweep = inference_sweep(batch_sizes=[256, 1024], seconds=0.2, archs=SMALL)
    for rates in (sweep.served, sweep.packed, sweep.forward):
        assert set(rates) == {"mlp"} and set(rates["mlp"]) == {"256", "1024"}
        assert all(rate > 0 for rate in rates["mlp"].values())


def test_the_learner_rate_comes_from_autocast_steps():
    rates = learner_rates(seconds=0.3, archs=SMALL, batch_size=256)
    assert rates.samples_per_s["mlp"] > 0 and rates.batch_size == 256
    assert rates.amp_dtype == ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")


def test_gpu_utilization_is_read_as_a_share():
    reader, method = find_reader()
    if reader is None:
        pytest.skip(method)
    sampler = BusySampler(reader, period_s=0.05)
    sampler.start()
    x = torch.randn(4096, 4096, device="cuda")
    for _ in range(500):  # about a second of kernels on a current GPU
        x = torch.tanh(x @ x)
    torch.cuda.synchronize()
    share = sampler.stop()
    assert sampler.samples > 0 and share is not None and 0.0 <= share <= 1.0
