"""The dashboard's files (dashboards/web) and the charting library, served without a CDN.

The charts use plotly.js from the ``plotly`` Python package, which ships ``plotly.min.js``
as package data; nothing is fetched from the internet.
"""

from __future__ import annotations

import importlib.resources
import mimetypes
import sys
from pathlib import Path

from fastapi import HTTPException
from fastapi.responses import FileResponse

import blobrl


def dashboard_dir(package_file: str = blobrl.__file__, prefix: str = sys.prefix) -> Path:
    """``dashboards/web`` beside the package in a checkout (editable installs, runs from the
    repository), else the copy a regular install puts under ``<prefix>/share/blobrl`` (the
    data files of pyproject.toml), as on a cluster's nodes."""
    checkout = Path(package_file).resolve().parents[1] / "dashboards" / "web"
    if checkout.is_dir():
        return checkout
    return Path(prefix) / "share" / "blobrl" / "dashboards" / "web"


DASHBOARD_DIR = dashboard_dir()
PLAY_PAGES = {"play.html", "play.js", "play.css"}  # /play: a person plays a checkpoint
PAGES = {"index.html", "dashboard.js", "charts.js", "dashboard.css", *PLAY_PAGES}


def _plotly_js() -> Path | None:
    try:
        path = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


VENDOR = {"plotly.min.js": _plotly_js}


class Assets:
    """Serves a fixed set of files by name, never a path taken from the request."""

    def __init__(self, directory: Path = DASHBOARD_DIR):
        self.directory = directory

    def page(self, name: str) -> FileResponse:
        if name not in PAGES or not (self.directory / name).is_file():
            raise HTTPException(404, f"no dashboard file {name!r}")
        return _file(self.directory / name)

    def vendor(self, name: str) -> FileResponse:
        locate = VENDOR.get(name)
        path = locate() if locate is not None else None
        if path is None:
            raise HTTPException(404, f"{name} is not installed (pip install plotly)")
        return _file(path)


def _file(path: Path) -> FileResponse:
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        media = "text/javascript"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})
