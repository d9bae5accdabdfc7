from fastapi import APIRouter, Depends, WebSocket

from blobrl.api.deps import HubDep, require_ws_token

router = APIRouter(tags=["updates"])


@router.websocket("/ws/updates", dependencies=[Depends(require_ws_token)])
async def updates(websocket: WebSocket, hub: HubDep) -> None:
    """``{type, data, timestamp}`` on every event; a ``status`` snapshot first."""
    await hub.serve(websocket)
