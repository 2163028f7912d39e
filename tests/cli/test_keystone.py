"""auth_strategy = keystone against a real Keystone (the lab's, SQLite on loopback).

`ironbound serve` validates tokens with keystonemiddleware as the `ironic` service
user; tokens come from Keystone for its admin, Nova's service user, a member and a
reader; the `baremetal` CLI and openstacksdk find Ironbound through the catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openstack
import pytest
import requests

from ironbound.lab.keystone import ADMIN_PASSWORD, KeystoneLab
from tests.serving import Server, serve

pytestmark = pytest.mark.keystone

VERSION = {"X-OpenStack-Ironic-API-Version": "latest"}
CHAP = {
    "target_iqn": "iqn.2026-12.org.example:ks",
    "target_portal": "192.0.2.10:3260",
    "target_lun": 0,
    "auth_method": "CHAP",
    "auth_username": "ABC",
    "auth_password": "XYZ-secret",
}


@pytest.fixture(scope="module")
def server(keystone_lab: KeystoneLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = "[DEFAULT]\nauth_strategy = keystone\n" + keystone_lab.authtoken_config("ironic")
    with serve(tmp_path_factory.mktemp("ks-serve"), config) as running:
        keystone_lab.catalog_baremetal(running.url)
        yield running


def _get(server: Server, path: str, token: str | None = None) -> requests.Response:
    headers = {**VERSION, **({"X-Auth-Token": token} if token else {})}
    return requests.get(f"{server.url}{path}", headers=headers, timeout=60)


def _post(server: Server, path: str, token: str, body: dict[str, Any]) -> requests.Response:
    headers = {**VERSION, "X-Auth-Token": token}
    return requests.post(f"{server.url}{path}", json=body, headers=headers, timeout=60)


def _fault(response: requests.Response) -> str:
    return str(json.loads(response.json()["error_message"])["faultstring"])


def test_no_token_and_a_bad_token_get_401_with_where_to_get_one(
    server: Server, keystone_lab: KeystoneLab
) -> None:
    for token in (None, "not-a-token", keystone_lab.token("mike") + "x"):
        response = _get(server, "/v1/nodes", token)
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == f'Keystone uri="{keystone_lab.url}"'
        assert "token" in _fault(response).lower()


def test_version_discovery_stays_public(server: Server) -> None:
    for path in ("/", "/v1"):
        assert _get(server, path).status_code == 200


def test_roles_decide_what_a_token_may_do_and_see(
    server: Server, keystone_lab: KeystoneLab
) -> None:
    admin, nova = keystone_lab.token("admin"), keystone_lab.token("nova")
    member, reader = keystone_lab.token("mike"), keystone_lab.token("rita")
    system_admin = keystone_lab.token("admin", system=True)
    node = _post(server, "/v1/nodes", admin, {"driver": "fake-hardware", "name": "ks-node"})
    assert node.status_code == 201, node.text
    target = _post(
        server,
        "/v1/volume/targets",
        member,
        {"node_uuid": node.json()["uuid"], "volume_type": "iscsi", "boot_index": 0,
         "volume_id": "ks-vol", "properties": CHAP},
    )  # fmt: skip
    assert target.status_code == 201, target.text
    url = f"/v1/volume/targets/{target.json()['uuid']}"
    # admin (project or system scope) and Nova's service user see the target's properties.
    for token in (admin, system_admin, nova):
        shown = _get(server, url, token)
        assert shown.status_code == 200
        assert shown.json()["properties"]["target_iqn"] == CHAP["target_iqn"]
    # member and reader see them redacted.
    for token in (member, reader):
        shown = _get(server, url, token)
        assert shown.status_code == 200
        assert "redacted_contents" in shown.json()["properties"]
    # a reader may not write.
    refused = _post(server, "/v1/nodes", reader, {"driver": "fake-hardware"})
    assert refused.status_code == 403, refused.text
    assert _get(server, "/v1/nodes", reader).status_code == 200


def test_the_baremetal_cli_authenticates_with_keystone(
    server: Server, keystone_lab: KeystoneLab
) -> None:
    auth = {
        "OS_AUTH_TYPE": "password",
        "OS_AUTH_URL": keystone_lab.url,
        "OS_USERNAME": "admin",
        "OS_PASSWORD": ADMIN_PASSWORD,
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
    }
    created = server.baremetal(
        "node create --driver fake-hardware --name ks-cli -f value -c uuid", auth=auth
    ).stdout.strip()
    assert created in server.baremetal("node list -f value -c UUID", auth=auth).stdout
    wrong = server.baremetal("node list", check=False, auth={**auth, "OS_PASSWORD": "wrong"})
    assert wrong.returncode != 0


@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_openstacksdk_with_password_auth(server: Server, keystone_lab: KeystoneLab) -> None:
    conn = openstack.connection.Connection(
        auth_type="password",
        auth={
            "auth_url": keystone_lab.url,
            "username": "nova",
            "password": "nova-pw",
            "project_name": "service",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        region_name="RegionOne",
    )
    node = conn.baremetal.create_node(driver="fake-hardware", name="ks-sdk")
    assert node.id in [n.id for n in conn.baremetal.nodes()]
    conn.close()
