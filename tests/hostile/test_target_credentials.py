"""Volume target CHAP settings are refused when written, not first when the node validates."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import create_target, error, iscsi_properties, ok, replace
from tests.hostile.targets import GOOD_CHAP, post_target

BAD = ["two words", "dollar$", "hash#", "it's", 'say"', "back\\slash", "pässword", "x" * 256]


@pytest.mark.parametrize("secret", BAD)
@pytest.mark.parametrize("key", ["auth_username", "auth_password"])
def test_unscriptable_chap_values_are_refused_on_create(
    client: TestClient, off_node: str, key: str, secret: str
) -> None:
    message = error(post_target(client, off_node, **{**GOOD_CHAP, key: secret}), 400)
    assert f"properties.{key} must be 1-255 printable ASCII characters" in message
    assert secret not in message


@pytest.mark.parametrize("secret", BAD[:3])
def test_unscriptable_chap_values_are_refused_on_update(
    client: TestClient, off_node: str, secret: str
) -> None:
    target = create_target(client, off_node, properties=iscsi_properties(**GOOD_CHAP))["uuid"]
    url = f"/v1/volume/targets/{target}"
    ops = [replace("/properties/auth_password", secret)]
    message = error(client.patch(url, json=ops), 400)
    assert "printable ASCII" in message
    assert secret not in message


def test_mutual_chap_with_a_null_half_is_refused(client: TestClient, off_node: str) -> None:
    props = {**GOOD_CHAP, "reverse_auth_username": "san", "reverse_auth_password": None}
    assert "Mutual CHAP needs both" in error(post_target(client, off_node, **props), 400)


def test_good_chap_values_are_accepted(client: TestClient, off_node: str) -> None:
    props = {**GOOD_CHAP, "reverse_auth_username": "san", "reverse_auth_password": "Mutual-2!~"}
    ok(post_target(client, off_node, **props), 201)
