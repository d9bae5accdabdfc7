from fastapi import APIRouter

from blobrl.api.deps import ClientDep
from blobrl.api.models import MetricsResponse

router = APIRouter(prefix="/api/metrics", tags=["metrics"])


@router.get("", response_model=MetricsResponse, summary="training and throughput numbers")
async def get_metrics(client: ClientDep):
    return await client.metrics()
