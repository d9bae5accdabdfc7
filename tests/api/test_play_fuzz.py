"""The play routes fuzzed from the OpenAPI schema over a run directory with a real checkpoint:
no 500s, and every answer conforms to the schema, on made-up and on live sessions."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from blobrl.api import create_app
from blobrl.api.play import CheckpointCatalog, PlayService

from .conftest import TOKEN
from .fakes import FakeCoordinator
from .test_play import write_run

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# A deal that does not fit a pack (6 players x 9 cards) and an illegal move are well typed but
# refused (422, 409) by rules the schema cannot state; every other check applies.
EXCLUDED = [positive_data_acceptance]


# The schema comes from the app as it is built; the checkpoints it plays are written (once per
# module) before the first request.
SERVICE = PlayService(None, max_sessions=8)
APP = create_app(FakeCoordinator(), token=TOKEN, play_service=SERVICE)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).include(path_regex="^/api/play/")
fuzz = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def checkpoints(tmp_path_factory):
    SERVICE.catalog = CheckpointCatalog(write_run(tmp_path_factory.mktemp("run")))


def live_session() -> str:
    """A new session (the model's raw policy: quick) for one fuzzed request on a real id."""
    answer = TestClient(APP).post(
        "/api/play/sessions", json={"players": 3, "cards": 4, "search": "raw"}, headers=AUTH
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["session_id"]


@schema.parametrize()
@fuzz
def test_play_routes_conform_to_their_schema(case):
    case.call_and_validate(headers=AUTH, excluded_checks=EXCLUDED)


@schema.exclude(path_regex=r"^/api/play/(checkpoints|sessions)$").parametrize()
@fuzz
def test_play_routes_conform_on_a_live_session(case):
    case.path_parameters = {**(case.path_parameters or {}), "session_id": live_session()}
    case.call_and_validate(headers=AUTH, excluded_checks=EXCLUDED)
