"""Typed dependencies of the routes: the Coordinator client, the control service, the update
hub and the token checks."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Query, WebSocketException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from blobrl.api.assets import Assets
from blobrl.api.client import CoordinatorClient
from blobrl.api.control import Controller
from blobrl.api.updates import UpdateHub


def get_client(connection: HTTPConnection) -> CoordinatorClient:
    return connection.app.state.client


def get_hub(connection: HTTPConnection) -> UpdateHub:
    return connection.app.state.hub


def get_controller(client: Annotated[CoordinatorClient, Depends(get_client)]) -> Controller:
    return Controller(client)


def token_matches(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` is the API token (always, when none is set); constant time."""
    if expected is None:
        return True
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


_bearer = HTTPBearer(auto_error=False, description="the API token (api.token)")


def require_token(
    connection: HTTPConnection,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse a request without ``Authorization: Bearer <token>`` when a token is set (401)."""
    given = credentials.credentials if credentials is not None else None
    if not token_matches(connection.app.state.token, given):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_ws_token(
    connection: HTTPConnection,
    token: Annotated[str | None, Query(description="the API token, for browsers")] = None,
) -> None:
    """Refuse a WebSocket without the token (header or ``?token=``): closed with 1008."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    given = value.strip() if scheme.lower() == "bearer" else None
    expected = connection.app.state.token
    if not (token_matches(expected, given) or token_matches(expected, token)):
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "missing or wrong API token")


ClientDep = Annotated[CoordinatorClient, Depends(get_client)]
HubDep = Annotated[UpdateHub, Depends(get_hub)]
ControllerDep = Annotated[Controller, Depends(get_controller)]


def get_assets(connection: HTTPConnection) -> Assets:
    return connection.app.state.assets


AssetsDep = Annotated[Assets, Depends(get_assets)]
