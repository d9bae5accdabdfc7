"""Fixtures shared by the actor tests: one local Ray per test session."""

import pytest


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
