from fastapi import APIRouter

from blobrl.api.deps import ClientDep
from blobrl.api.models import ConfigResponse

router = APIRouter(prefix="/api/config", tags=["config"])


@router.get("", response_model=ConfigResponse, summary="the resolved config and schedule phase")
async def get_config(client: ClientDep):
    return await client.config_view()
