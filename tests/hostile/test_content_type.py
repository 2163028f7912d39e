"""A body must say it is JSON: a cross-site form POST cannot create nodes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import fault

BODY = b'{"driver": "fake-hardware"}'


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_said_to_be_json_is_415(
    client: TestClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post("/v1/nodes", content=BODY, headers=headers)
    assert response.status_code == 415
    assert "allowed: application/json" in fault(response)
    assert client.get("/v1/nodes").json()["nodes"] == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_with_parameters_is_accepted(client: TestClient, content_type: str) -> None:
    response = client.post("/v1/nodes", content=BODY, headers={"Content-Type": content_type})
    assert response.status_code == 201


def test_a_request_without_a_body_needs_no_content_type(client: TestClient) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    assert client.put(f"/v1/nodes/{uuid}/maintenance", content=b"").status_code == 202
