from fastapi import APIRouter

from blobrl.api.deps import ClientDep
from blobrl.api.history import elo_series, loss_series
from blobrl.api.models import EloPoint, LossPoint

router = APIRouter(prefix="/api/history", tags=["history"])


@router.get("/elo", response_model=list[EloPoint], summary="Elo after each arena")
async def get_elo(client: ClientDep):
    return elo_series(await client.history())


@router.get("/loss", response_model=list[LossPoint], summary="losses of each iteration")
async def get_loss(client: ClientDep):
    return loss_series(await client.history())
