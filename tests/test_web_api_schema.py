"""The REST API tested from its own OpenAPI document (schemathesis): no generated
request gets a 5xx, and every operation refuses a missing or wrong token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import WebhookReceiver
from web_fixtures import WebSetup, make_setup

from scheduler.web.app import create_app

# Fetching a URL (a crawl child per request) and sending test alerts are tried by tests of
# their own; generated requests would only make the run slow.
SLOW = {("POST", "/api/v1/sources/preview"), ("POST", "/api/v1/channels/{name}/test")}


@pytest.fixture
def web(tmp_path: Path, webhook: WebhookReceiver) -> Iterator[WebSetup]:
    yield from make_setup(tmp_path, webhook)


def test_no_generated_request_gets_a_server_error(web: WebSetup) -> None:
    app = create_app(web.app, web.config_file)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SLOW]
    assert len(operations) >= 18
    headers = {"Authorization": f"Bearer {web.token}"}
    statuses: dict[tuple[str, str], set[int]] = {}

    @given(st.data())
    @settings(max_examples=len(operations) * 12, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def generated_requests(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(operations))
        case = data.draw(operation.as_strategy())
        response = case.call(headers=headers)
        statuses.setdefault((case.method, case.path), set()).add(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path,
                                            case.query, case.body, response.text[:500])

    generated_requests()
    assert len(statuses) >= len(operations) // 2  # most operations were reached


def test_every_operation_refuses_a_missing_or_wrong_token(web: WebSetup) -> None:
    from fastapi.testclient import TestClient

    app = create_app(web.app, web.config_file)
    client = TestClient(app)
    document = app.openapi()
    operations = [(method.upper(), re.sub(r"\{[^}]+\}", "1", path))
                  for path, methods in document["paths"].items() for method in methods]
    assert len(operations) >= 20
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for method, path in operations:
        for headers in ({}, {"Authorization": "Bearer nw_wrong"},
                        {"Authorization": f"Bearer {web.token}x"}):
            response = client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
