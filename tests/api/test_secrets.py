"""Secrets through the API: masked in every response, kept on round trips, sealed at rest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ironbound import config
from ironbound.api.services import ApiServices
from ironbound.db.models import Node, VolumeTarget
from tests.api.helpers import (
    add,
    create_connector,
    create_node,
    create_target,
    error,
    iscsi_properties,
    ok,
    patch,
    power,
    remove,
    replace,
    to_active,
)

BMC_PASSWORD = "bmc-Pa55-word-1"
CHAP_PASSWORD = "chap-Secret-42"
MUTUAL_PASSWORD = "mutual-Secret-77"
MASK = "******"


def chap(**overrides: Any) -> dict[str, Any]:
    props = iscsi_properties(
        auth_method="CHAP",
        auth_username="ABC",
        auth_password=CHAP_PASSWORD,
        reverse_auth_username="DEF",
        reverse_auth_password=MUTUAL_PASSWORD,
    )
    props.update(overrides)
    return props


def node_secrets(services: ApiServices, uuid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What is stored for the node: the clear JSON column and the opened sealed column."""
    with services.db.read() as session:
        row = session.scalars(select(Node).where(Node.uuid == uuid)).one()
        return dict(row.driver_info), services.box.open(row.driver_secrets)


def target_secrets(services: ApiServices, uuid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with services.db.read() as session:
        row = session.scalars(select(VolumeTarget).where(VolumeTarget.uuid == uuid)).one()
        return dict(row.properties), services.box.open(row.secret_properties)


# --- driver_info ---------------------------------------------------------------------


def test_driver_info_password_is_masked_everywhere(client: TestClient) -> None:
    info = {"redfish_address": "https://bmc", "redfish_username": "root"}
    node = create_node(client, name="bmc", driver_info={**info, "redfish_password": BMC_PASSWORD})
    masked = {**info, "redfish_password": MASK}
    uuid = node["uuid"]
    assert node["driver_info"] == masked
    assert ok(client.get(f"/v1/nodes/{uuid}"))["driver_info"] == masked
    assert ok(client.get("/v1/nodes/bmc?fields=driver_info"))["driver_info"] == masked
    assert ok(client.get("/v1/nodes/detail"))["nodes"][0]["driver_info"] == masked
    updated = ok(patch(client, f"/v1/nodes/{uuid}", add("/extra/a", 1)))
    assert updated["driver_info"] == masked


def test_driver_info_secret_is_sealed_and_kept_on_round_trips(
    client: TestClient, services: ApiServices
) -> None:
    node = create_node(client, driver_info={"ipmi_password": BMC_PASSWORD, "ipmi_username": "u"})
    url = f"/v1/nodes/{node['uuid']}"
    clear, sealed = node_secrets(services, node["uuid"])
    assert clear == {"ipmi_password": MASK, "ipmi_username": "u"}
    assert sealed == {"/ipmi_password": BMC_PASSWORD}
    # A client that writes back what it read (the mask) keeps the password.
    shown = ok(client.get(url))
    ok(patch(client, url, replace("/driver_info", shown["driver_info"])))
    ok(patch(client, url, add("/driver_info/ipmi_password", MASK)))
    assert node_secrets(services, node["uuid"])[1] == {"/ipmi_password": BMC_PASSWORD}
    # A real new value replaces it; removing the key drops it.
    ok(patch(client, url, add("/driver_info/ipmi_password", "new-one")))
    assert node_secrets(services, node["uuid"])[1] == {"/ipmi_password": "new-one"}
    ok(patch(client, url, remove("/driver_info/ipmi_password")))
    assert node_secrets(services, node["uuid"]) == ({"ipmi_username": "u"}, {})


def test_nested_and_instance_info_secrets(client: TestClient, services: ApiServices) -> None:
    node = create_node(
        client,
        driver_info={"bmc": {"password": BMC_PASSWORD}, "keys": [{"secret": "s1"}]},
        instance_info={"image_source": "x", "image_token": "tok-123"},
    )
    assert node["driver_info"] == {"bmc": {"password": MASK}, "keys": [{"secret": MASK}]}
    assert node["instance_info"] == {"image_source": "x", "image_token": MASK}
    sealed = node_secrets(services, node["uuid"])[1]
    assert sealed == {"/bmc/password": BMC_PASSWORD, "/keys/0/secret": "s1"}


def test_rescue_password_in_instance_info_is_a_secret(client: TestClient) -> None:
    """Ironic keeps a rescue password in instance_info; written there, it is masked."""
    node = create_node(client, instance_info={"rescue_password": "r3scue"})
    assert node["instance_info"] == {"rescue_password": MASK}
    assert "r3scue" not in client.get(f"/v1/nodes/{node['uuid']}").text


def test_a_null_password_is_not_a_secret(client: TestClient) -> None:
    node = create_node(client, driver_info={"ipmi_password": None})
    assert node["driver_info"] == {"ipmi_password": None}


# --- volume target properties ----------------------------------------------------------------


def test_chap_passwords_are_masked_everywhere(client: TestClient) -> None:
    node = create_node(client)["uuid"]
    target = create_target(client, node, properties=chap())
    expected = chap(auth_password=MASK, reverse_auth_password=MASK)
    url = f"/v1/volume/targets/{target['uuid']}"
    assert target["properties"] == expected
    assert ok(client.get(url))["properties"] == expected
    assert ok(client.get(f"{url}?fields=properties"))["properties"] == expected
    assert ok(client.get("/v1/volume/targets?detail=True"))["targets"][0]["properties"] == expected
    listed = ok(client.get(f"/v1/nodes/{node}/volume/targets?detail=True"))["targets"]
    assert listed[0]["properties"] == expected
    power(client, node, "power off")
    updated = ok(patch(client, url, add("/properties/target_lun", 1)))
    assert updated["properties"] == {**expected, "target_lun": 1}


def test_chap_round_trip_keeps_the_stored_secret(client: TestClient, services: ApiServices) -> None:
    node = create_node(client)["uuid"]
    power(client, node, "power off")
    target = create_target(client, node, properties=chap())
    url = f"/v1/volume/targets/{target['uuid']}"
    clear, sealed = target_secrets(services, target["uuid"])
    assert clear["auth_password"] == clear["reverse_auth_password"] == MASK
    assert sealed == {"/auth_password": CHAP_PASSWORD, "/reverse_auth_password": MUTUAL_PASSWORD}
    # What `baremetal volume target set --property ...` sends after a show.
    shown = ok(client.get(url))["properties"]
    ok(patch(client, url, replace("/properties", shown)))
    ok(patch(client, url, add("/properties/auth_password", MASK)))
    assert target_secrets(services, target["uuid"])[1] == sealed
    ok(patch(client, url, add("/properties/auth_password", "rotated-1")))
    assert target_secrets(services, target["uuid"])[1]["/auth_password"] == "rotated-1"
    assert target_secrets(services, target["uuid"])[1]["/reverse_auth_password"] == (
        MUTUAL_PASSWORD
    )


def test_a_masked_password_never_set_stays_the_mask(
    client: TestClient, services: ApiServices
) -> None:
    node = create_node(client)["uuid"]
    target = create_target(client, node, properties=chap(auth_password=MASK))
    assert target_secrets(services, target["uuid"])[1]["/auth_password"] == MASK


# --- never in the clear: responses, logs, the database file -----------------------------------


def test_secrets_never_reach_logs_responses_or_the_database_file(
    client: TestClient, services: ApiServices, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = (BMC_PASSWORD, CHAP_PASSWORD, MUTUAL_PASSWORD)
    bodies: list[bytes] = []

    def keep(response: Any) -> Any:
        bodies.append(response.content)
        return response

    node = create_node(
        client, driver_info={"redfish_password": BMC_PASSWORD}, boot_interface="fake"
    )["uuid"]
    keep(client.get(f"/v1/nodes/{node}"))
    create_connector(client, node)
    target = create_target(client, node, properties=chap())
    keep(client.get(f"/v1/volume/targets/{target['uuid']}"))
    keep(client.get("/v1/volume/targets?detail=True"))
    keep(client.get(f"/v1/nodes/{node}/validate"))
    to_active(client, node)
    keep(client.get("/v1/nodes/detail"))
    # Failures log and answer too: a refused update, a refused deletion.
    keep(patch(client, f"/v1/volume/targets/{target['uuid']}", add("/properties/x", 1)))
    keep(client.delete(f"/v1/volume/targets/{target['uuid']}"))
    keep(patch(client, f"/v1/nodes/{node}", add("/storage_interface", "external")))
    for body in bodies:
        for secret in secrets:
            assert secret.encode() not in body
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.exc_text)
        for secret in secrets:
            assert secret not in text, record
    state = config.state_path(services.conf)
    files = [p for p in Path(state).iterdir() if p.is_file()]
    assert any(p.name.startswith("ironbound.sqlite") for p in files)
    with services.db.engine.connect() as connection:  # flush the WAL into the main file too
        connection.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    everything = b"".join(p.read_bytes() for p in files)
    assert b"iqn.2010-10.com.example:vol-x" in everything  # the files do hold the targets
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path.name
            assert secret.encode("utf-16-le") not in data, path.name


def test_error_messages_do_not_echo_a_bad_secret(client: TestClient) -> None:
    node = create_node(client)["uuid"]
    response = client.post(
        "/v1/volume/targets",
        json={
            "node_uuid": node,
            "volume_type": "iscsi",
            "boot_index": 0,
            "volume_id": "v",
            "properties": chap(target_lun="0"),
        },
    )
    message = error(response, 400)
    assert CHAP_PASSWORD not in message
    assert MUTUAL_PASSWORD not in message
