"""Boot from volume through the API and the boot server, on fake power and management.

The node's "firmware" here is the test: it asks the boot server for the
scripts a real iPXE would fetch and reports what a real iPXE would report.
The real thing (QEMU, iPXE, tgt) is in tests/e2e.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.bootserver.app import create_boot_app
from ironbound.db import any_table
from ironbound.db.models import VolumeTarget
from tests.conftest import fault, wait_for_state, wait_until

BOOT_URL = "http://192.0.2.1:8080"
BOOT_OVERRIDES: dict[str, Any] = {"deploy.http_url": BOOT_URL, "conductor.heartbeat_interval": 0.2}


@pytest.fixture
def overrides() -> dict[str, Any]:
    return dict(BOOT_OVERRIDES)


@pytest.fixture
def boot(services: ApiServices) -> Iterator[TestClient]:
    app = create_boot_app(services.conf, services.db, services.box, services.signals)
    with TestClient(app, base_url="http://192.0.2.1:8080") as client:
        yield client


def make_node(client: TestClient, data_volume: bool = True, password: str = "Secret-Pass-1") -> str:
    node = client.post(
        "/v1/nodes",
        json={
            "driver": "fake-hardware",
            "name": "bfv",
            "boot_interface": "ipxe",
            "deploy_interface": "direct",
            "storage_interface": "external",
            "properties": {"capabilities": "iscsi_boot:True"},
        },
    ).json()
    uuid: str = node["uuid"]
    add_port_and_connector(client, uuid)
    boot_props = {
        "target_iqn": "iqn.2026-11.org.example:vol1",
        "target_portal": "10.0.2.2:3260",
        "target_lun": 16,
        "auth_method": "CHAP",
        "auth_username": "node1",
        "auth_password": password,
    }
    response = client.post(
        "/v1/volume/targets",
        json={"node_uuid": uuid, "volume_type": "iscsi", "boot_index": 0, "volume_id": "vol-1",
              "properties": boot_props},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    if data_volume:
        data_props = {
            "target_iqn": "iqn.2026-11.org.example:data",
            "target_portal": "[fd00::10]:3261",
            "target_lun": 1,
        }
        client.post(
            "/v1/volume/targets",
            json={"node_uuid": uuid, "volume_type": "iscsi", "boot_index": 1,
                  "volume_id": "vol-2", "properties": data_props},
        )  # fmt: skip
    make_available(client, uuid)
    return uuid


def add_port_and_connector(client: TestClient, uuid: str) -> None:
    """The node's PXE port (52:54:00:12:34:56) and its iqn connector."""
    assert (
        client.post(
            "/v1/ports", json={"address": "52:54:00:12:34:56", "node_uuid": uuid}
        ).status_code
        == 201
    )
    client.post(
        "/v1/volume/connectors",
        json={"node_uuid": uuid, "type": "iqn", "connector_id": "iqn.2026-11.org.example:n1"},
    )


def make_available(client: TestClient, uuid: str) -> None:
    for verb, state in (("manage", "manageable"), ("provide", "available")):
        client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb})
        wait_for_state(client, uuid, state)


def deploy(client: TestClient, uuid: str) -> None:
    assert (
        client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"}).status_code
        == 202
    )
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "wait call-back",
        what="the deploy to wait for the node",
    )


def fetch_script(boot: TestClient) -> tuple[str, str]:
    """What iPXE does: the entry script, the by-MAC chain, the node's script. Returns (url, body)."""
    entry = boot.get("/boot.ipxe")
    assert entry.status_code == 200
    assert f"chain {BOOT_URL}/boot/mac/${{net${{ironbound-nic}}/mac:hexhyp}}" in entry.text
    chain = boot.get("/boot/mac/52-54-00-12-34-56")
    assert chain.status_code == 200, chain.text
    url = chain.text.splitlines()[1].removeprefix("chain ")
    assert url.startswith(f"{BOOT_URL}/boot/") and url.endswith("/script.ipxe")
    script = boot.get(url.removeprefix(BOOT_URL))
    assert script.status_code == 200
    return url, script.text


def test_rendered_script_line_by_line(client: TestClient, boot: TestClient) -> None:
    uuid = make_node(client)
    deploy(client, uuid)
    url, script = fetch_script(boot)
    events = url.removesuffix("/script.ipxe") + "/events"
    assert script.splitlines() == [
        "#!ipxe",
        f"# Ironbound: node {uuid} boots from its iSCSI volumes.",
        "# This script is rendered for this node alone and is never stored.",
        "set initiator-iqn iqn.2026-11.org.example:n1",
        "set username node1",
        "set password Secret-Pass-1",
        "clear reverse-username",
        "clear reverse-password",
        f"echo Ironbound: attaching volume {_target(client, uuid, 0)} as SAN drive 0x80",
        f"set ironbound-volume {_target(client, uuid, 0)}",
        "sanhook --drive 0x80 iscsi:10.0.2.2::3260:10:iqn.2026-11.org.example:vol1 || goto failed",
        "clear username",
        "clear password",
        "clear reverse-username",
        "clear reverse-password",
        f"echo Ironbound: attaching volume {_target(client, uuid, 1)} as SAN drive 0x81",
        f"set ironbound-volume {_target(client, uuid, 1)}",
        "sanhook --drive 0x81 iscsi:[fd00::10]::3261:1:iqn.2026-11.org.example:data || goto failed",
        "# A lost connection to the boot volume is re-established with the credentials",
        "# set last, so they must be the boot volume's again.",
        "set username node1",
        "set password Secret-Pass-1",
        "clear reverse-username",
        "clear reverse-password",
        f"imgfetch --name ironbound-report {events}/booting || echo Ironbound: could not report progress",
        "imgfree ironbound-report ||",
        "echo Ironbound: booting from SAN drive 0x80",
        f"set ironbound-volume {_target(client, uuid, 0)}",
        "sanboot --no-describe --drive 0x80 || goto failed",
        "",
        ":failed",
        "echo Ironbound: boot from volume failed: ${errno}",
        f"imgfetch --name ironbound-report {events}/failed?errno=${{errno}}&volume=${{ironbound-volume}} || echo Ironbound: could not report the failure",
        "exit 1",
    ]


def _target(client: TestClient, uuid: str, boot_index: int) -> str:
    targets = client.get(f"/v1/volume/targets?node={uuid}").json()["targets"]
    return str(next(t["uuid"] for t in targets if t["boot_index"] == boot_index))


def test_booting_report_makes_the_node_active_and_undeploy_revokes(
    client: TestClient, boot: TestClient, services: ApiServices
) -> None:
    uuid = make_node(client, data_volume=False)
    deploy(client, uuid)
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert node["power_state"] == "power on"
    url, script = fetch_script(boot)
    path = url.removeprefix(BOOT_URL)
    assert boot.get(path.removesuffix("script.ipxe") + "events/booting").status_code == 200
    node = wait_for_state(client, uuid, "active")
    assert node["driver_internal_info"]["boot_status"]["status"] == "booting"
    assert node["last_error"] is None
    # The password is in the script the node gets, and nowhere in the API.
    assert "Secret-Pass-1" in script
    assert "Secret-Pass-1" not in client.get(f"/v1/volume/targets?node={uuid}&detail=True").text
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "deleted"})
    node = wait_for_state(client, uuid, "available")
    assert node["power_state"] == "power off"
    assert boot.get(path).status_code == 404
    assert boot.get("/boot/mac/52-54-00-12-34-56").status_code == 404
    assert client.get(f"/v1/volume/targets?node={uuid}").json()["targets"] == []


def report_failure(
    client: TestClient, boot: TestClient, uuid: str, errno: str, volume: str = ""
) -> Any:
    """Fetch the script as iPXE does, report a failure with `errno` while hooking or
    booting `volume` (a target's uuid; iPXE sends it empty before any); the failed node."""
    url, _ = fetch_script(boot)
    events = url.removeprefix(BOOT_URL).removesuffix("script.ipxe")
    report = events + f"events/failed?errno={errno}&volume={volume}"
    assert boot.get(report).status_code == 200
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "deploy failed",
        what="deploy failed",
    )
    return client.get(f"/v1/nodes/{uuid}").json()


def test_chap_failure_fails_the_deploy_with_a_reason(client: TestClient, boot: TestClient) -> None:
    uuid = make_node(client, data_volume=False)
    deploy(client, uuid)
    target = _target(client, uuid, 0)
    node = report_failure(client, boot, uuid, "0x410d613c", target)
    assert node["last_error"].startswith(
        f"Boot from volume failed: volume target {target} (volume vol-1): iPXE error 0x410d613c"
    )
    assert "rejected the CHAP login" in node["last_error"]
    assert "0x410d613c" in node["last_error"]
    assert node["power_state"] == "power off"
    assert node["target_provision_state"] is None


def test_unknown_tokens_and_macs_look_alike(client: TestClient, boot: TestClient) -> None:
    uuid = make_node(client, data_volume=False)
    for path in ("/boot/not-a-token/script.ipxe", "/boot/mac/52-54-00-12-34-56",
                 "/boot/mac/52-54-00-99-99-99", "/boot/x/events/booting", "/nothing"):  # fmt: skip
        response = boot.get(path)
        assert (response.status_code, response.text) == (404, "Not found\n"), path
    deploy(client, uuid)
    url, _ = fetch_script(boot)
    assert (
        boot.get(
            url.removeprefix(BOOT_URL).removesuffix("script.ipxe") + "events/whatever"
        ).status_code
        == 404
    )
    assert re.fullmatch(rf"{BOOT_URL}/boot/[A-Za-z0-9_-]{{43}}/script.ipxe", url)


def test_validation_catches_what_would_break_the_boot(
    client: TestClient, services: ApiServices
) -> None:
    uuid = make_node(client, data_volume=False)
    target = _target(client, uuid, 0)
    # The API refuses such a password now; one stored before that rule still is caught.
    refused = client.patch(
        f"/v1/volume/targets/{target}",
        json=[{"op": "replace", "path": "/properties/auth_password", "value": "has space"}],
    )
    assert refused.status_code == 400
    with services.db.write() as session:
        row = any_table.by_uuid(session, VolumeTarget, target)
        assert row is not None
        row.secret_properties = services.box.seal(
            {**services.box.open(row.secret_properties), "/auth_password": "has space"}
        )
    reason = validation_fails(client, uuid, "boot")
    assert "printable ASCII characters without spaces" in reason
    assert fault(
        client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "bogus"})
    ).startswith("Invalid provision state target")


def validation_fails(client: TestClient, uuid: str, interface: str) -> str:
    """GET validate fails `interface`, and so does a deploy; returns the validate reason."""
    table = client.get(f"/v1/nodes/{uuid}/validate").json()
    assert table[interface]["result"] is False, table
    response = client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    assert response.status_code == 202
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "deploy failed",
        what="deploy failed",
    )
    assert "validate failed" in client.get(f"/v1/nodes/{uuid}").json()["last_error"]
    return str(table[interface]["reason"])


def test_callback_timeout(client: TestClient, conductor: Any) -> None:
    conductor.ctx.conf.set_override("deploy_callback_timeout", 1, group="conductor")
    uuid = make_node(client, data_volume=False)
    deploy(client, uuid)
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "deploy failed",
        timeout=10,
        what="the callback timeout",
    )
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert "never fetched its boot script" in node["last_error"]
