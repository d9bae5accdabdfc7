"""Why a play request is refused, and the HTTP answer each reason gets."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class PlayError(Exception):
    """A play request refused with a reason; ``status_code`` is its HTTP answer."""

    status_code = 409


class NotFound(PlayError):
    """No such session, or no such checkpoint in the run directory."""

    status_code = 404


class Refused(PlayError):
    """Not allowed now: an illegal move (the engine's reason), a move on a finished hand, no
    next round, a checkpoint that cannot be loaded."""

    status_code = 409


async def answer(request: Request, exc: Exception) -> JSONResponse:
    """``{detail}`` with the error's status code."""
    assert isinstance(exc, PlayError)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)


async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 with ``Allow`` naming every method of the path: a session's path has GET and DELETE,
    two routes, and Starlette's own answer names only the first one's methods."""
    allowed: set[str] = set()
    for route in request.app.router.routes:
        regex, methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and methods and regex.match(request.url.path):
            allowed |= set(methods)
    detail = getattr(exc, "detail", "Method Not Allowed")
    return JSONResponse(
        {"detail": detail}, status_code=405, headers={"Allow": ", ".join(sorted(allowed))}
    )
