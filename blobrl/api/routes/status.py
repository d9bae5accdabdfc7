from fastapi import APIRouter

from blobrl.api.deps import ClientDep
from blobrl.api.models import StatusResponse

router = APIRouter(prefix="/api/status", tags=["status"])


@router.get("", response_model=StatusResponse, summary="state and progress of the run")
async def get_status(client: ClientDep):
    return await client.status()
