"""A null auth_method is refused when a target is written, not a crash when the node validates."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import (
    create_node,
    create_target,
    error,
    iscsi_properties,
    ok,
    power,
    replace,
)

GOOD = {"auth_method": "CHAP", "auth_username": "node-1", "auth_password": "Good-Secret-1"}


def _create(client: TestClient, node: str, **properties: Any) -> Any:
    body = {
        "node_uuid": node,
        "volume_type": "iscsi",
        "boot_index": 0,
        "volume_id": "vol-1",
        "properties": iscsi_properties(**properties),
    }
    return client.post("/v1/volume/targets", json=body)


@pytest.fixture
def node(client: TestClient) -> str:
    uuid = str(create_node(client)["uuid"])
    power(client, uuid, "power off")
    return uuid


def test_a_null_auth_method_is_refused_on_create(client: TestClient, node: str) -> None:
    message = error(_create(client, node, auth_method=None), 400)
    assert "auth_method cannot be null" in message
    assert "'CHAP' or 'None'" in message


def test_a_null_auth_method_is_refused_on_update(client: TestClient, node: str) -> None:
    target = create_target(client, node, properties=iscsi_properties(**GOOD))["uuid"]
    url = f"/v1/volume/targets/{target}"
    message = error(client.patch(url, json=[replace("/properties/auth_method", None)]), 400)
    assert "auth_method cannot be null" in message
    assert ok(client.get(url))["properties"]["auth_method"] == "CHAP"
