"""``/api/play/...``: a person plays a checkpoint of the run (docs/design.md). The handlers are
plain functions, so FastAPI runs them in its thread pool while the model seats think."""

from typing import Any

from fastapi import APIRouter, Depends, status
from fastapi.responses import FileResponse

from blobrl.api.deps import AssetsDep, require_token
from blobrl.api.models import ErrorResponse
from blobrl.api.play.deps import PlayDep
from blobrl.api.play.models import CheckpointList, ModelView, Move, NewSession, PlayState

Responses = dict[int | str, dict[str, Any]]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


UNAUTHORIZED: Responses = {401: _error("a token is set and was not given")}
NO_SESSION: Responses = {404: _error("no such session")}
BAD_BODY: Responses = {400: _error("the body is not JSON")}
REFUSED: Responses = {409: _error("not allowed now; the reason says why")}

router = APIRouter(
    prefix="/api/play",
    tags=["play"],
    dependencies=[Depends(require_token)],
    responses=UNAUTHORIZED,
)


@router.get("/checkpoints", response_model=CheckpointList, summary="what may be played")
def list_checkpoints(play: PlayDep):
    return play.checkpoints()


@router.post(
    "/sessions",
    response_model=PlayState,
    status_code=status.HTTP_201_CREATED,
    summary="deal a hand (or a full game) against the checkpoint; the model seats before the "
    "person act",
    responses={
        **BAD_BODY,
        404: _error("no such checkpoint (or none yet)"),
        409: _error("the checkpoint cannot be loaded"),
    },
)
def create_session(request: NewSession, play: PlayDep):
    return play.create(request)


@router.get(
    "/sessions/{session_id}",
    response_model=PlayState,
    summary="the session as the person sees it",
    responses=NO_SESSION,
)
def get_session(session_id: str, play: PlayDep):
    return play.state(session_id)


@router.post(
    "/sessions/{session_id}/moves",
    response_model=PlayState,
    summary="the person's bid or card; the model seats answer up to the person's next turn",
    responses={
        **BAD_BODY,
        **NO_SESSION,
        409: _error("an illegal move (the engine's reason) or a finished hand; nothing changed"),
    },
)
def make_move(session_id: str, move: Move, play: PlayDep):
    return play.move(session_id, move.action)


@router.post(
    "/sessions/{session_id}/next",
    response_model=PlayState,
    summary="deal the next round of a full game",
    responses={**NO_SESSION, **REFUSED},
)
def next_round(session_id: str, play: PlayDep):
    return play.next_round(session_id)


@router.get(
    "/sessions/{session_id}/view",
    response_model=ModelView,
    summary="the network's policy, value and trick distribution for the person's decision",
    responses={**NO_SESSION, **REFUSED},
)
def model_view(session_id: str, play: PlayDep):
    return play.view(session_id)


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="end the session",
    responses=NO_SESSION,
)
def delete_session(session_id: str, play: PlayDep) -> None:
    play.delete(session_id)


page = APIRouter(include_in_schema=False)


@page.get("/play")
async def play_page(assets: AssetsDep) -> FileResponse:
    return assets.page("play.html")
