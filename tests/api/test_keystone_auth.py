"""auth_strategy = keystone on the wire, with keystonemiddleware's call to Keystone stood in for.

The same behaviour against a real Keystone: tests/cli/test_keystone.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import error, ok
from tests.keystone_support import AUTH_URI, FakeKeystone


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"auth_strategy": "keystone", "keystone_authtoken.www_authenticate_uri": AUTH_URI}


@pytest.fixture
def keystone(monkeypatch: pytest.MonkeyPatch) -> FakeKeystone:
    fake = FakeKeystone(monkeypatch)
    fake.add("admin-token", ["admin", "member", "reader"], project="admin")
    fake.add("nova-token", ["service"], project="service")
    fake.add("reader-token", ["reader"])
    fake.add("other-token", ["_member_"])
    return fake


def test_no_token_is_401_naming_keystone(client: TestClient, keystone: FakeKeystone) -> None:
    response = client.get("/v1/nodes")
    assert "Keystone token" in error(response, 401)
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{AUTH_URI}"'
    assert keystone.calls == []


def test_a_bad_token_is_401(client: TestClient, keystone: FakeKeystone) -> None:
    response = client.get("/v1/nodes", headers={"X-Auth-Token": "forged"})
    assert "invalid or has expired" in error(response, 401)
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{AUTH_URI}"'


def test_basic_credentials_are_no_token(client: TestClient, keystone: FakeKeystone) -> None:
    error(client.get("/v1/nodes", auth=("admin", "admin")), 401)


def test_discovery_needs_no_token(client: TestClient, keystone: FakeKeystone) -> None:
    for path in ("/", "/v1", "/v1/"):
        ok(client.get(path))


def test_roles_from_the_token(client: TestClient, keystone: FakeKeystone) -> None:
    for token in ("admin-token", "nova-token"):
        ok(client.post("/v1/nodes", json={"driver": "fake-hardware"}, headers={"X-Auth-Token": token}), 201)  # fmt: skip
    reader = {"X-Auth-Token": "reader-token"}
    assert len(ok(client.get("/v1/nodes", headers=reader))["nodes"]) == 2
    error(client.post("/v1/nodes", json={"driver": "fake-hardware"}, headers=reader), 403)
    error(client.get("/v1/nodes", headers={"X-Auth-Token": "other-token"}), 403)
    assert sorted(keystone.calls) == ["admin-token", "nova-token", "other-token", "reader-token"]
