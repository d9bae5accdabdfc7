"""The control API (FastAPI, served by Ray Serve) and the web dashboard it serves at /."""

from typing import Any

from blobrl.api.app import create_app
from blobrl.api.client import CoordinatorClient, CoordinatorUnavailable, RayCoordinatorClient

__all__ = [
    "CoordinatorClient",
    "CoordinatorUnavailable",
    "RayCoordinatorClient",
    "create_app",
    "start_api",
    "stop_api",
]


def __getattr__(name: str) -> Any:
    # Ray Serve is imported only by what serves the API, not by tests of the app.
    if name in ("start_api", "stop_api"):
        from blobrl.api import serve

        return getattr(serve, name)
    raise AttributeError(name)
