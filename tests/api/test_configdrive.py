"""Config drives on `PUT .../states/provision`: checked, stored sealed, masked, and refused
by a deploy that cannot deliver them yet."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ironbound.api import microversions as mv
from ironbound.api.services import ApiServices
from ironbound.db.models import Node
from ironbound.drivers import base
from ironbound.drivers.storage.noop import NoopStorage
from tests.api.helpers import add, create_node, error, force, ok, patch, v
from tests.configdrive_support import iso, packed
from tests.conftest import wait_for_state

DRIVE = packed(iso())
OBJECT = {"meta_data": {"hostname": "web-1"}, "user_data": "#cloud-config\npassword: s3cret\n"}
UNDELIVERABLE = (
    "check the config drive failed: the noop storage interface cannot deliver a config drive yet"
)


@pytest.fixture
def node(client: TestClient, services: ApiServices) -> str:
    uuid = str(create_node(client, name="cd")["uuid"])
    force(services, uuid, provision_state="available")
    return uuid


@pytest.fixture
def json_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve up to 1.59, where vendor data joins the JSON form (Ironbound's ceiling is lower)."""
    monkeypatch.setattr(mv, "MAX_MINOR", mv.CONFIGDRIVE_VENDOR_DATA)


def put(client: TestClient, node: str, body: Any, minor: int = mv.MAX_MINOR) -> Any:
    return client.put(f"/v1/nodes/{node}/states/provision", json=body, headers=v(minor))


def stored(services: ApiServices, node: str) -> tuple[dict[str, Any], Any]:
    """instance_info as the database holds it, and the config drive its secrets hold."""
    with services.db.read() as session:
        row = session.scalars(select(Node).where(Node.uuid == node)).one()
        secrets = services.box.open(row.instance_secrets)
        return row.instance_info, secrets.get("/configdrive")


# --- accepted ---------------------------------------------------------------------------


def test_a_gzipped_iso_is_stored_sealed_and_the_deploy_fails_clearly(
    client: TestClient, services: ApiServices, node: str
) -> None:
    patch(client, f"/v1/nodes/{node}", add("/instance_info/image_url", "http://x/i"))
    assert put(client, node, {"target": "active", "configdrive": DRIVE}).status_code == 202
    shown = wait_for_state(client, node, "deploy failed")
    assert shown["last_error"] == UNDELIVERABLE + (
        "; deploy without one (instance_info/configdrive unset), and give the instance its "
        "identity another way."
    )
    info, sealed = stored(services, node)
    assert info == {"image_url": "http://x/i", "configdrive": "******"}
    assert sealed == DRIVE


def test_a_storage_that_delivers_lets_the_deploy_through(
    client: TestClient, node: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NoopStorage, "capabilities", frozenset({base.DELIVERS_CONFIG_DRIVE}))
    assert put(client, node, {"target": "active", "configdrive": DRIVE}).status_code == 202
    wait_for_state(client, node, "active")


def test_the_config_drive_is_masked_in_every_response(client: TestClient, node: str) -> None:
    assert put(client, node, {"target": "active", "configdrive": DRIVE}).status_code == 202
    wait_for_state(client, node, "deploy failed")
    for url in (
        f"/v1/nodes/{node}",
        f"/v1/nodes/{node}?fields=instance_info",
        "/v1/nodes/detail",
        "/v1/nodes?fields=instance_info",
    ):
        response = client.get(url, headers=v(mv.MAX_MINOR))
        assert DRIVE[:40] not in response.text, url
        document = ok(response)
        found = document["nodes"][0] if "nodes" in document else document
        assert found["instance_info"]["configdrive"] == "******", url


def test_a_rebuild_replaces_the_config_drive_and_one_without_keeps_it(
    client: TestClient, services: ApiServices, node: str
) -> None:
    assert put(client, node, {"target": "active", "configdrive": DRIVE}).status_code == 202
    wait_for_state(client, node, "deploy failed")
    force(services, node, provision_state="active")
    other = packed(iso({"openstack/latest/meta_data.json": b'{"uuid": "2"}'}))
    assert put(client, node, {"target": "rebuild", "configdrive": other}).status_code == 202
    wait_for_state(client, node, "deploy failed")
    assert stored(services, node)[1] == other
    force(services, node, provision_state="active")
    assert put(client, node, {"target": "rebuild"}).status_code == 202
    assert wait_for_state(client, node, "deploy failed")["last_error"].startswith(UNDELIVERABLE)
    assert stored(services, node)[1] == other


def test_other_instance_secrets_are_kept(
    client: TestClient, services: ApiServices, node: str
) -> None:
    patch(client, f"/v1/nodes/{node}", add("/instance_info/admin_pass", "kept-secret"))
    assert put(client, node, {"target": "active", "configdrive": DRIVE}).status_code == 202
    with services.db.read() as session:
        row = session.scalars(select(Node).where(Node.uuid == node)).one()
        assert services.box.open(row.instance_secrets) == {
            "/admin_pass": "kept-secret",
            "/configdrive": DRIVE,
        }


@pytest.mark.parametrize("configdrive", [None, {}, ""])
def test_an_empty_config_drive_means_none(
    client: TestClient, services: ApiServices, node: str, configdrive: Any
) -> None:
    assert put(client, node, {"target": "active", "configdrive": configdrive}).status_code == 202
    wait_for_state(client, node, "active")
    assert stored(services, node) == ({}, None)


def test_the_json_form_is_stored_from_1_56(
    client: TestClient, services: ApiServices, node: str
) -> None:
    assert put(client, node, {"target": "active", "configdrive": OBJECT}, 56).status_code == 202
    wait_for_state(client, node, "deploy failed")
    info, sealed = stored(services, node)
    assert info == {"configdrive": "******"}
    assert sealed == OBJECT
    text = client.get(f"/v1/nodes/{node}", headers=v(56)).text
    assert "s3cret" not in text
    assert "web-1" not in text


@pytest.mark.usefixtures("json_form")
def test_vendor_data_comes_with_1_59(client: TestClient, node: str) -> None:
    body = {"target": "active", "configdrive": {"vendor_data": {"a": 1}}}
    assert error(put(client, node, body, 58), 400) == (
        "Providing vendor_data in configdrive is only supported starting with API version 1.59"
    )
    assert put(client, node, body, 59).status_code == 202


# --- refused ------------------------------------------------------------------------------


def test_a_json_object_before_1_56_is_refused_as_ironic_does(
    client: TestClient, services: ApiServices, node: str
) -> None:
    body = {"target": "active", "configdrive": OBJECT}
    assert error(put(client, node, body, mv.BUILD_CONFIGDRIVE - 1), 400) == (
        "Providing a JSON object for configdrive is only supported starting with API version 1.56"
    )
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == "available"
    assert stored(services, node) == ({}, None)


@pytest.mark.parametrize(
    ("verb", "minor", "needle"),
    [
        ("rebuild", 34, "only supported when setting provision state to active."),
        ("deleted", 35, "only supported when setting provision state to active, rebuild."),
    ],
)
def test_a_config_drive_is_refused_with_other_verbs(
    client: TestClient, services: ApiServices, node: str, verb: str, minor: int, needle: str
) -> None:
    force(services, node, provision_state="active")
    # The verb is refused before the value is looked at, as in Ironic.
    for value in (DRIVE, "not base64!"):
        body = {"target": verb, "configdrive": value}
        assert needle in error(put(client, node, body, minor), 400)
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == "active"


def test_rebuild_takes_a_config_drive_from_1_35(
    client: TestClient, services: ApiServices, node: str
) -> None:
    force(services, node, provision_state="active")
    assert put(client, node, {"target": "rebuild", "configdrive": DRIVE}, 35).status_code == 202
    wait_for_state(client, node, "deploy failed")


@pytest.mark.parametrize(
    ("configdrive", "needle"),
    [
        ("http://198.51.100.1/cd.iso.gz", "A config drive given as a URL is not supported"),
        ("not base64!", "neither a JSON object nor a base64 string"),
        ("******", "neither a JSON object nor a base64 string"),
        (packed(b"x" * 40_000), "not an ISO 9660 image"),
        ([DRIVE], "not an array"),
        ({"meta_data": {}, "bogus": 1}, "unknown key(s) bogus"),
        ({"user_data": 5}, "user_data must be a string, an object, an array or null"),
    ],
)
def test_malformed_config_drives_are_400_and_change_nothing(
    client: TestClient, services: ApiServices, node: str, configdrive: Any, needle: str
) -> None:
    body = {"target": "active", "configdrive": configdrive}
    assert needle in error(put(client, node, body), 400)
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == "available"
    assert stored(services, node) == ({}, None)


def test_nothing_of_a_refused_config_drive_is_echoed(client: TestClient, node: str) -> None:
    secret = {"meta_data": {"admin_pass": "echo-me-not"}, "bogus": 1}
    response = put(client, node, {"target": "active", "configdrive": secret})
    assert "echo-me-not" not in json.dumps(response.json())
