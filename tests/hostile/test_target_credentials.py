"""Volume target CHAP settings are refused when written, not first when the node validates."""

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


BAD = ["two words", "dollar$", "hash#", "it's", 'say"', "back\\slash", "pässword", "x" * 256]


@pytest.mark.parametrize("secret", BAD)
@pytest.mark.parametrize("key", ["auth_username", "auth_password"])
def test_unscriptable_chap_values_are_refused_on_create(
    client: TestClient, node: str, key: str, secret: str
) -> None:
    message = error(_create(client, node, **{**GOOD, key: secret}), 400)
    assert f"properties.{key} must be 1-255 printable ASCII characters" in message
    assert secret not in message


@pytest.mark.parametrize("secret", BAD[:3])
def test_unscriptable_chap_values_are_refused_on_update(
    client: TestClient, node: str, secret: str
) -> None:
    target = create_target(client, node, properties=iscsi_properties(**GOOD))["uuid"]
    url = f"/v1/volume/targets/{target}"
    ops = [replace("/properties/auth_password", secret)]
    message = error(client.patch(url, json=ops), 400)
    assert "printable ASCII" in message
    assert secret not in message


def test_mutual_chap_with_a_null_half_is_refused(client: TestClient, node: str) -> None:
    props = {**GOOD, "reverse_auth_username": "san", "reverse_auth_password": None}
    assert "Mutual CHAP needs both" in error(_create(client, node, **props), 400)


def test_good_chap_values_are_accepted(client: TestClient, node: str) -> None:
    props = {**GOOD, "reverse_auth_username": "san", "reverse_auth_password": "Mutual-2!~"}
    ok(_create(client, node, **props), 201)
