"""HTTP basic authentication, roles, and who may see volume target properties."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironbound.api import microversions as mv
from tests.api.helpers import (
    MAX_HEADER,
    MIN_HEADER,
    VERSION_HEADER,
    add,
    envelope,
    error,
    iscsi_properties,
    ok,
    patch,
    power,
    replace,
)

PASSWORDS = {"alice": "alice-pw", "mike": "mike-pw", "rita": "rita-pw", "dora": "dora-pw"}
ADMIN = ("alice", PASSWORDS["alice"])
MEMBER = ("mike", PASSWORDS["mike"])
READER = ("rita", PASSWORDS["rita"])
DEFAULT = ("dora", PASSWORDS["dora"])  # not in user_roles: gets default_roles
REDACTED = {
    "redacted_contents": "** Value redacted: Requires permission "
    "baremetal:volume:view_target_properties access. Permission denied. **"
}
CHAP = iscsi_properties(auth_method="CHAP", auth_username="ABC", auth_password="XYZ-secret")


def _hash(password: str, apache: bool = False) -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    # Apache's htpasswd -B writes $2y$; the server must read it as bcrypt.
    return "$2y$" + hashed[4:] if apache else hashed


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    htpasswd = tmp_path / "htpasswd"
    lines = ["# users of the test", ""]
    for index, (user, password) in enumerate(PASSWORDS.items()):
        lines.append(f"{user}:{_hash(password, apache=index % 2 == 1)}")
    lines.append("broken:$1$not-bcrypt")
    htpasswd.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "auth_strategy": "http_basic",
        "http_basic_auth_user_file": str(htpasswd),
        "api.user_roles": {"alice": "admin", "mike": "member", "rita": "reader"},
        "api.default_roles": ["member"],
    }


@pytest.fixture
def node(client: TestClient) -> str:
    response = client.post("/v1/nodes", json={"driver": "fake-hardware"}, auth=ADMIN)
    return str(ok(response, 201)["uuid"])


class _AuthClient:
    """The few TestClient methods `power()` uses, sending credentials."""

    def __init__(self, client: TestClient, auth: tuple[str, str]) -> None:
        self._client, self._auth = client, auth

    def get(self, url: str) -> Any:
        return self._client.get(url, auth=self._auth)

    def put(self, url: str, json: Any) -> Any:
        return self._client.put(url, json=json, auth=self._auth)


def _basic(value: str) -> dict[str, str]:
    return {"Authorization": value}


# --- authentication -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/"])
def test_version_discovery_is_public(client: TestClient, path: str) -> None:
    ok(client.get(path))


def test_no_credentials_is_401(client: TestClient) -> None:
    response = client.get("/v1/nodes")
    assert "Authentication required" in error(response, 401)
    assert response.headers["www-authenticate"] == 'Basic realm="Baremetal API"'
    assert response.headers[MIN_HEADER] == "1.1"
    assert response.headers[MAX_HEADER] == mv.MAX_VERSION
    assert response.headers[VERSION_HEADER] == mv.MAX_VERSION
    assert response.headers["openstack-request-id"].startswith("req-")


@pytest.mark.parametrize(
    "auth",
    [("alice", "wrong"), ("nobody", "alice-pw"), ("broken", "x"), ("alice", ""), ("", "x")],
)
def test_bad_credentials_are_401(client: TestClient, auth: tuple[str, str]) -> None:
    response = client.get("/v1/nodes", auth=auth)
    error(response, 401)
    assert response.headers["www-authenticate"] == 'Basic realm="Baremetal API"'


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Bearer abc",
        "Basic",
        "",
    ],
)
def test_malformed_authorization_is_401(client: TestClient, header: str) -> None:
    response = client.get("/v1/nodes", headers=_basic(header))
    error(response, 401)
    assert response.headers["www-authenticate"] == 'Basic realm="Baremetal API"'


def test_valid_credentials(client: TestClient) -> None:
    for auth in (ADMIN, MEMBER, READER, DEFAULT):
        ok(client.get("/v1/nodes", auth=auth))


def test_the_version_is_checked_before_the_credentials(client: TestClient) -> None:
    response = client.get("/v1/nodes", headers={VERSION_HEADER: "1.99"})
    error(response, 406)


def test_a_changed_password_file_is_read_again(
    client: TestClient, overrides: dict[str, Any]
) -> None:
    ok(client.get("/v1/nodes", auth=READER))
    path = Path(overrides["http_basic_auth_user_file"])
    path.write_text(f"rita:{_hash('new-pw')}\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    error(client.get("/v1/nodes", auth=READER), 401)
    ok(client.get("/v1/nodes", auth=("rita", "new-pw")))
    error(client.get("/v1/nodes", auth=ADMIN), 401)


# --- roles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/nodes", {"driver": "fake-hardware"}),
        ("PATCH", "/v1/nodes/NODE", [add("/extra/a", 1)]),
        ("DELETE", "/v1/nodes/NODE", None),
        ("PUT", "/v1/nodes/NODE/states/power", {"target": "power on"}),
        ("PUT", "/v1/nodes/NODE/maintenance", {}),
        ("POST", "/v1/volume/targets", {}),
        ("POST", "/v1/ports", {}),
    ],
)
def test_reader_cannot_write(
    client: TestClient, node: str, method: str, path: str, body: Any
) -> None:
    response = client.request(method, path.replace("NODE", node), json=body, auth=READER)
    assert error(response, 403) == "Access was denied to the following resource: baremetal:write"
    shown = ok(client.get(f"/v1/nodes/{node}", auth=READER))
    assert shown["extra"] == {}
    assert shown["maintenance"] is False


def test_reader_can_read_everything(client: TestClient, node: str) -> None:
    for path in (
        "/v1/nodes",
        "/v1/nodes/detail",
        f"/v1/nodes/{node}",
        f"/v1/nodes/{node}/states",
        "/v1/ports",
        "/v1/volume/targets",
        "/v1/volume/connectors",
        "/v1/drivers",
    ):
        ok(client.get(path, auth=READER))


def test_only_an_admin_posts_network_events(client: TestClient) -> None:
    # Ironic's baremetal:events:post: Neutron's service user or an admin, not a member.
    event = {
        "event": "network.bind_port",
        "port_id": "0b7f8d2e-8a4c-4a0e-9a57-5f1d1c2e3a4b",
        "mac_address": "52:54:00:00:54:01",
        "status": "ACTIVE",
    }
    body, headers = {"events": [event]}, {VERSION_HEADER: "1.54"}
    refused = client.post("/v1/events", json=body, headers=headers, auth=MEMBER)
    assert error(refused, 403) == (
        "Access was denied to the following resource: baremetal:events:post"
    )
    assert client.post("/v1/events", json=body, headers=headers, auth=ADMIN).status_code == 204


def test_member_and_default_roles_can_write(client: TestClient, node: str) -> None:
    for auth in (MEMBER, DEFAULT):
        ok(patch(client, f"/v1/nodes/{node}", add("/extra/by", auth[0]), auth=auth))


# --- target properties: masked for admins, redacted for everyone else ------------------------


@pytest.fixture
def target(client: TestClient, node: str) -> dict[str, Any]:
    body = {
        "node_uuid": node,
        "volume_type": "iscsi",
        "boot_index": 0,
        "volume_id": "vol-1",
        "properties": CHAP,
    }
    return dict(ok(client.post("/v1/volume/targets", json=body, auth=MEMBER), 201))


def test_the_creator_sees_the_properties_masked(target: dict[str, Any]) -> None:
    assert target["properties"] == {**CHAP, "auth_password": "******"}


def test_admin_sees_masked_properties(client: TestClient, target: dict[str, Any]) -> None:
    url = f"/v1/volume/targets/{target['uuid']}"
    expected = {**CHAP, "auth_password": "******"}
    assert ok(client.get(url, auth=ADMIN))["properties"] == expected
    listed = ok(client.get("/v1/volume/targets?detail=True", auth=ADMIN))["targets"]
    assert listed[0]["properties"] == expected
    assert ok(client.get(f"{url}?fields=properties", auth=ADMIN))["properties"] == expected


@pytest.mark.parametrize("auth", [MEMBER, READER, DEFAULT])
def test_others_see_the_properties_redacted(
    client: TestClient, target: dict[str, Any], auth: tuple[str, str]
) -> None:
    url = f"/v1/volume/targets/{target['uuid']}"
    assert ok(client.get(url, auth=auth))["properties"] == REDACTED
    assert ok(client.get(f"{url}?fields=properties,uuid", auth=auth))["properties"] == REDACTED
    for query in ("detail=True", f"detail=True&node={target['node_uuid']}"):
        listed = ok(client.get(f"/v1/volume/targets?{query}", auth=auth))["targets"]
        assert listed[0]["properties"] == REDACTED
    node_list = f"/v1/nodes/{target['node_uuid']}/volume/targets?detail=True"
    assert ok(client.get(node_list, auth=auth))["targets"][0]["properties"] == REDACTED
    # Everything else is shown.
    shown = ok(client.get(url, auth=auth))
    assert shown["volume_id"] == "vol-1"
    assert shown["boot_index"] == 0


def test_member_patch_response_is_redacted_and_keeps_the_secret(
    client: TestClient, node: str, target: dict[str, Any]
) -> None:
    power(_AuthClient(client, ADMIN), node, "power off")
    url = f"/v1/volume/targets/{target['uuid']}"
    updated = ok(patch(client, url, add("/properties/target_lun", 4), auth=MEMBER))
    assert updated["properties"] == REDACTED
    assert ok(client.get(url, auth=ADMIN))["properties"] == {
        **CHAP,
        "target_lun": 4,
        "auth_password": "******",
    }


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    scheme=st.sampled_from(["Basic ", "basic ", "Bearer ", "", "Basic  "]),
    payload=st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode())
    | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
    | st.tuples(st.sampled_from([*PASSWORDS, "x", ""]), st.text(max_size=12)).map(
        lambda pair: base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
    ),
)
def test_any_authorization_header_is_200_or_401(
    client: TestClient, scheme: str, payload: str
) -> None:
    response = client.get("/v1/nodes", headers=_basic(scheme + payload))
    assert response.status_code in (200, 401), response.text
    if response.status_code == 401:
        envelope(response)
        assert response.headers["www-authenticate"] == 'Basic realm="Baremetal API"'


def test_writing_back_the_redacted_properties_is_refused(
    client: TestClient, node: str, target: dict[str, Any]
) -> None:
    power(_AuthClient(client, ADMIN), node, "power off")
    url = f"/v1/volume/targets/{target['uuid']}"
    shown = ok(client.get(url, auth=MEMBER))["properties"]
    assert shown == REDACTED
    response = patch(client, url, replace("/properties", shown), auth=MEMBER)
    assert "redacted placeholder" in error(response, 400)
    assert ok(client.get(url, auth=ADMIN))["properties"] == {**CHAP, "auth_password": "******"}
