"""A null auth_method is refused when a target is written, not a crash when the node validates."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import create_target, error, iscsi_properties, ok, replace
from tests.hostile.targets import GOOD_CHAP, post_target


def test_a_null_auth_method_is_refused_onpost_target(client: TestClient, off_node: str) -> None:
    message = error(post_target(client, off_node, auth_method=None), 400)
    assert "auth_method cannot be null" in message
    assert "'CHAP' or 'None'" in message


def test_a_null_auth_method_is_refused_on_update(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node, properties=iscsi_properties(**GOOD_CHAP))["uuid"]
    url = f"/v1/volume/targets/{target}"
    message = error(client.patch(url, json=[replace("/properties/auth_method", None)]), 400)
    assert "auth_method cannot be null" in message
    assert ok(client.get(url))["properties"]["auth_method"] == "CHAP"
