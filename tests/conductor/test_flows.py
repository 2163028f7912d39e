"""Provision flows on fake power: what each verb does, and where failures land."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import wait_for_state, wait_until


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"deploy.http_url": "http://192.0.2.1:8080"}


def _node(client: TestClient, storage: str = "external", **fields: Any) -> str:
    body = {
        "driver": "fake-hardware",
        "boot_interface": "ipxe",
        "deploy_interface": "direct",
        "storage_interface": storage,
        "properties": {"capabilities": "iscsi_boot:True"},
        **fields,
    }
    uuid = str(client.post("/v1/nodes", json=body).json()["uuid"])
    client.post("/v1/ports", json={"address": "52:54:00:aa:bb:01", "node_uuid": uuid})
    client.post(
        "/v1/volume/connectors",
        json={"node_uuid": uuid, "type": "iqn", "connector_id": "iqn.2026-11.org.example:flows"},
    )
    props = {
        "target_iqn": "iqn.2026-11.org.example:v",
        "target_portal": "192.0.2.9:3260",
        "target_lun": 0,
    }
    client.post(
        "/v1/volume/targets",
        json={
            "node_uuid": uuid,
            "volume_type": "iscsi",
            "boot_index": 0,
            "volume_id": "v",
            "properties": props,
        },
    )
    for verb, state in (("manage", "manageable"), ("provide", "available")):
        client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb})
        wait_for_state(client, uuid, state)
    return uuid


def _state(client: TestClient, uuid: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/nodes/{uuid}").json()
    return body


def _power_is(client: TestClient, uuid: str, expected: str) -> Callable[[], bool]:
    def reached() -> bool:
        node = _state(client, uuid)
        return bool(node["power_state"] == expected and node["target_power_state"] is None)

    return reached


def test_cinder_deploy_without_a_cinder_fails_with_a_clear_reason(client: TestClient) -> None:
    uuid = _node(client, storage="cinder")
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    wait_until(
        lambda: _state(client, uuid)["provision_state"] == "deploy failed", what="deploy failed"
    )
    node = _state(client, uuid)
    assert node["last_error"].startswith("validate failed: storage: Failed to validate cinder")
    assert "[cinder]auth_type is not set" in node["last_error"]
    # Undeploying it does not get stuck in "error" for want of a Cinder.
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "deleted"})
    wait_for_state(client, uuid, "available")


def test_an_image_without_a_checksum_is_refused_before_anything_happens(
    client: TestClient,
) -> None:
    uuid = _node(client, instance_info={"image_source": "http://images/x.qcow2"})
    table = client.get(f"/v1/nodes/{uuid}/validate").json()
    assert table["deploy"]["result"] is False
    assert "image_source http://images/x.qcow2 needs a checksum" in table["deploy"]["reason"]
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    wait_until(
        lambda: _state(client, uuid)["provision_state"] == "deploy failed", what="deploy failed"
    )
    node = _state(client, uuid)
    assert node["last_error"].startswith("validate failed: deploy:")
    assert node["power_state"] != "power on"


def test_ipxe_needs_the_boot_server_url(client: TestClient, conductor: Any) -> None:
    uuid = _node(client)
    conductor.ctx.conf.clear_override("http_url", group="deploy")
    table = client.get(f"/v1/nodes/{uuid}/validate").json()
    assert table["boot"]["result"] is False
    assert "[deploy]http_url is not set" in table["boot"]["reason"]


def test_abort_while_waiting_for_the_boot(client: TestClient) -> None:
    uuid = _node(client)
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    wait_until(
        lambda: _state(client, uuid)["provision_state"] == "wait call-back", what="wait call-back"
    )
    assert _state(client, uuid)["power_state"] == "power on"
    assert (
        client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "abort"}).status_code
        == 202
    )
    wait_until(
        lambda: _state(client, uuid)["power_state"] == "power off", what="power off after abort"
    )
    node = _state(client, uuid)
    assert node["provision_state"] == "deploy failed"
    # From there the operator can try again.
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    wait_until(
        lambda: _state(client, uuid)["provision_state"] == "wait call-back", what="second deploy"
    )


def test_deploy_step_shows_the_running_step(client: TestClient) -> None:
    uuid = _node(client)
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    wait_until(
        lambda: _state(client, uuid)["provision_state"] == "wait call-back", what="wait call-back"
    )
    step = _state(client, uuid)["deploy_step"]
    assert step["interface"] == "deploy"
    assert set(step) == {"interface", "step", "priority", "argsinfo"}
    assert step["step"] == "power on"  # the last step before the wait for the boot report
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "abort"})
    wait_until(lambda: _state(client, uuid)["provision_state"] == "deploy failed", what="abort")
    assert _state(client, uuid)["deploy_step"] == {}


def test_rebuild_and_adopt_on_fake_deploy(client: TestClient) -> None:
    uuid = str(client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"])
    for verb, state in (
        ("manage", "manageable"),
        ("adopt", "active"),
        ("rebuild", "active"),
        ("deleted", "available"),
    ):
        response = client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb})
        assert response.status_code == 202, response.text
        wait_for_state(client, uuid, state)
    progress = _state(client, uuid)["driver_internal_info"]["progress"]
    assert progress.endswith("cleaning: no clean steps apply to this node"), progress


def test_power_actions_record_the_state(client: TestClient) -> None:
    uuid = str(client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"])
    for target, expected in (
        ("power on", "power on"),
        ("rebooting", "power on"),
        ("power off", "power off"),
        ("soft rebooting", "power on"),
        ("soft power off", "power off"),
    ):
        assert (
            client.put(f"/v1/nodes/{uuid}/states/power", json={"target": target}).status_code == 202
        )
        wait_until(_power_is(client, uuid, expected), what=target)


@pytest.mark.parametrize(
    "overrides", [{"fake.power_delay": 2.0, "api.settle_time": 0.0}], ids=["slow-bmc"]
)
def test_a_power_request_timeout_bounds_the_wait(client: TestClient) -> None:
    uuid = str(client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"])
    response = client.put(
        f"/v1/nodes/{uuid}/states/power", json={"target": "power on", "timeout": 1}
    )
    assert response.status_code == 202
    wait_until(lambda: client.get(f"/v1/nodes/{uuid}").json()["last_error"] is not None)
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert "more than 1 s" in node["last_error"]
    assert node["power_state"] != "power on"
    # Without a timeout the same BMC is simply slow.
    client.put(f"/v1/nodes/{uuid}/states/power", json={"target": "power on"})
    wait_until(_power_is(client, uuid, "power on"), what="power on")
