"""Fixtures shared by the actor tests: one torch thread, and one local Ray per test session."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small models run fastest on one thread, and other test processes share the cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray (two CPUs, no dashboard), started once and shut down at the end.
    Reuses a Ray that is already initialized and then leaves it running."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
