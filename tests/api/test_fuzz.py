"""Property-based fuzzing of the API from its own OpenAPI schema: no 500s, and every answer
conforms to the schema (status codes, content types, bodies)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from .conftest import TOKEN, make_app
from .fakes import FakeCoordinator

schemathesis = pytest.importorskip("schemathesis")

schema = schemathesis.openapi.from_asgi("/openapi.json", make_app(FakeCoordinator(), token=TOKEN))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    case.call_and_validate()
