"""Serve the API with Ray Serve: one replica on the head node, the app built inside it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import ray
from ray import serve

from blobrl.api.app import create_app
from blobrl.api.client import RayCoordinatorClient
from blobrl.config import ApiConfig

APP_NAME = "blobrl-api"


@serve.deployment(
    ray_actor_options={"num_cpus": 0},
    # Every open WebSocket is an ongoing request: allow many dashboards at once.
    max_ongoing_requests=1000,
)
@serve.ingress()
class ApiIngress:
    """The replica finds the Coordinator by name (or gets its handle) and builds the app. The
    play sessions live in this one replica."""

    def __init__(
        self,
        coordinator: Any,
        namespace: str | None,
        token: str | None,
        run_dir: str | None = None,
    ):
        handle = (
            ray.get_actor(coordinator, namespace=namespace)
            if isinstance(coordinator, str)
            else coordinator
        )
        self._app = create_app(RayCoordinatorClient(handle), token=token, run_dir=run_dir)

    def __serve_build_asgi_app__(self):
        return self._app


def start_api(
    coordinator: Any,
    api: ApiConfig,
    *,
    namespace: str | None = None,
    run_dir: str | Path | None = None,
) -> str:
    """Start Ray Serve on ``api.host:api.port`` (a free port when 0) with the control API for
    ``coordinator`` (a named actor's name, looked up in ``namespace`` or the caller's, or its
    handle); the play routes play the checkpoints of ``run_dir`` (an absolute path is passed to
    the replica). Returns the dashboard's URL. Ray must be initialized."""
    if isinstance(coordinator, str) and namespace is None:
        namespace = ray.get_runtime_context().namespace
    port = api.port or free_port(api.host)
    serve.start(http_options={"host": api.host, "port": port}, proxy_location="HeadOnly")
    serve.run(
        ApiIngress.bind(  # type: ignore[attr-defined]
            coordinator,
            namespace,
            api.token,
            None if run_dir is None else str(Path(run_dir).resolve()),
        ),
        name=APP_NAME,
        route_prefix="/",
        blocking=False,
    )
    return f"http://{_url_host(api.host)}:{port}/"


def stop_api() -> None:
    """Shut Ray Serve down (the API and its proxy)."""
    serve.shutdown()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host
