"""Fixtures of the API tests: the app over a fake Coordinator, in a TestClient."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from blobrl.api import create_app
from blobrl.api.updates import UpdateHub

from .fakes import FakeCoordinator

TOKEN = "s3cret-token"


@pytest.fixture
def fake():
    return FakeCoordinator()


def make_app(fake, token=None, **hub):
    return create_app(fake, token=token, hub=UpdateHub(fake, poll_timeout_s=0.2, **hub))


@pytest.fixture
def client(fake):
    with TestClient(make_app(fake)) as test_client:
        yield test_client


@pytest.fixture
def secured(fake):
    with TestClient(make_app(fake, token=TOKEN)) as test_client:
        yield test_client


@pytest.fixture(scope="package")
def ray_serve():
    """A real local Ray for the Serve tests of this package, which share one Ray Serve (its
    controller and proxy start once, not once a module); Serve is shut down after the last of
    them (and Ray, if started here)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        from blobrl.api import stop_api

        stop_api()
        if started:
            ray.shutdown()


@pytest.fixture(scope="package")
def serve_port(ray_serve) -> int:
    """The port of the shared Serve proxy: every ``start_api`` on ``ray_serve`` must use it (a
    running Serve keeps the HTTP options it started with); each one replaces the app."""
    from .server import free_port

    return free_port()
