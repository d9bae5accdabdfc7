from fastapi import APIRouter, Depends

from blobrl.api.control import DESCRIPTIONS, Command
from blobrl.api.deps import ControllerDep, require_token
from blobrl.api.models import ControlResponse, ErrorResponse

router = APIRouter(
    prefix="/api/control",
    tags=["control"],
    dependencies=[Depends(require_token)],
    responses={
        401: {"model": ErrorResponse, "description": "a token is set and was not given"},
        409: {"model": ControlResponse, "description": "not allowed in the current state"},
        503: {"model": ErrorResponse, "description": "the coordinator did not answer"},
    },
)


def _add(command: Command) -> None:
    async def handler(controller: ControllerDep):
        return await controller.apply(command)

    router.add_api_route(
        f"/{command.value}",
        handler,
        methods=["POST"],
        response_model=ControlResponse,
        name=f"control_{command.value}",
        summary=DESCRIPTIONS[command],
    )


for _command in Command:
    _add(_command)
