from fastapi import APIRouter
from fastapi.responses import FileResponse

from blobrl.api.deps import AssetsDep

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index(assets: AssetsDep) -> FileResponse:
    return assets.page("index.html")


@router.get("/static/vendor/{name}")
async def vendor(name: str, assets: AssetsDep) -> FileResponse:
    return assets.vendor(name)


@router.get("/static/{name}")
async def static(name: str, assets: AssetsDep) -> FileResponse:
    return assets.page(name)
