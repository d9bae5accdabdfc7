"""The play service as a typed dependency of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from blobrl.api.play.service import PlayService


def get_play(connection: HTTPConnection) -> PlayService:
    return connection.app.state.play


PlayDep = Annotated[PlayService, Depends(get_play)]
