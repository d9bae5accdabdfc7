from fastapi import APIRouter

from blobrl.api.deps import ClientDep
from blobrl.api.history import (
    elo_series,
    gauntlet_series,
    loss_series,
    step_series,
    throughput_series,
)
from blobrl.api.models import EloPoint, GauntletPoint, LossPoint, StepPoint, ThroughputPoint

router = APIRouter(prefix="/api/history", tags=["history"])


@router.get("/elo", response_model=list[EloPoint], summary="Elo after each arena")
async def get_elo(client: ClientDep):
    return elo_series(await client.history())


@router.get("/loss", response_model=list[LossPoint], summary="losses of each iteration")
async def get_loss(client: ClientDep):
    return loss_series(await client.history())


@router.get(
    "/steps", response_model=list[StepPoint], summary="learning curve, every few training steps"
)
async def get_steps(client: ClientDep):
    return step_series(await client.history())


@router.get(
    "/gauntlet",
    response_model=list[GauntletPoint],
    summary="each gauntlet: the network against random, the heuristic and ismcts baselines",
)
async def get_gauntlet(client: ClientDep):
    return gauntlet_series(await client.history())


@router.get(
    "/throughput",
    response_model=list[ThroughputPoint],
    summary="time of self-play, training and evaluation, games/min, buffer, data reuse",
)
async def get_throughput(client: ClientDep):
    history = await client.history()
    return throughput_series(history, (await client.config_view())["config"])
