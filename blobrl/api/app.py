"""The control API as a FastAPI app, built from a Coordinator client (see docs/design.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from blobrl.api.assets import DASHBOARD_DIR, Assets
from blobrl.api.client import CoordinatorClient, CoordinatorUnavailable
from blobrl.api.control import TransitionRefused
from blobrl.api.play import PlayError, PlayService
from blobrl.api.play.errors import answer as play_refused
from blobrl.api.play.errors import method_not_allowed
from blobrl.api.routes import config, control, dashboard, history, metrics, play, status, ws
from blobrl.api.updates import UpdateHub


def create_app(
    coordinator: CoordinatorClient,
    *,
    token: str | None = None,
    dashboard_dir: Path = DASHBOARD_DIR,
    hub: UpdateHub | None = None,
    run_dir: str | Path | None = None,
    play_service: PlayService | None = None,
) -> FastAPI:
    """The API over ``coordinator``. With a ``token``, every POST, the WebSocket and the play
    routes need it. The play routes play the checkpoints of ``run_dir`` (none without one)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.hub.close()

    app = FastAPI(
        title="blobrl control API",
        summary="Status, metrics, history and control of a blobrl training run",
        version="1",
        lifespan=lifespan,
    )
    app.state.client = coordinator
    app.state.token = token
    app.state.hub = hub or UpdateHub(coordinator)
    app.state.assets = Assets(dashboard_dir)
    app.state.play = PlayService(run_dir) if play_service is None else play_service
    for module in (status, metrics, config, history, control, play, ws, dashboard):
        app.include_router(module.router)
    app.include_router(play.page)
    app.add_exception_handler(TransitionRefused, _refused)
    app.add_exception_handler(PlayError, play_refused)
    app.add_exception_handler(405, method_not_allowed)
    app.add_exception_handler(CoordinatorUnavailable, _unavailable)
    return app


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TransitionRefused)
    return JSONResponse(asdict(exc.result), status_code=409)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503)
