"""Schemathesis against the Open311 API's own /openapi.json: nothing a client sends is a 500.

Bounded (a few dozen generated cases per operation) so that it runs in the test command.
Every case carries a live handler key, so the generated input reaches the validation and
the database behind the key check rather than stopping at 401/403.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from geo import api, intake
from geo.store import engine as store_engine
from geo.store import requests as store_requests


@pytest.fixture
def open311(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    intake.clear_grid_cache()
    key = intake.create_api_key(engine, "fuzz", role="handler")
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.create_app(engine))
    return schema, key


schema = schemathesis.pytest.from_fixture("open311_schema")


@pytest.fixture
def open311_schema(open311):
    return open311[0]


@pytest.fixture
def handler_key(open311):
    return open311[1]


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_generated_request_is_a_server_error(case, handler_key):
    case.query = {**(case.query or {}), "api_key": handler_key}
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, case.query, case.body,
                                        response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        # The spec's error array, whatever went wrong.
        assert isinstance(body, list) and body and {"code", "description"} <= set(body[0]), body
        assert body[0]["code"] == response.status_code
