"""The ramdisk deploy interface through the API and the boot server, on fake power.

A node without a boot volume boots instance_info kernel and ramdisk (or
boot_iso) over HTTP; its iSCSI targets are data volumes, hooked first so the
iBFT describes them. The real boot is in tests/e2e/test_ramdisk_boot.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.drivers import base
from ironbound.drivers.storage.external import ExternalStorage
from tests import configdrive_support as drives
from tests.bootserver.test_attacker import attacker
from tests.bootserver.test_boot_flow import (
    BOOT_URL,
    add_port_and_connector,
    boot,
    deploy,
    fetch_script,
    make_available,
    overrides,
    report_failure,
    validation_fails,
)
from tests.conftest import wait_for_state, wait_until

__all__ = ["attacker", "boot", "overrides"]  # fixtures shared with test_boot_flow

KERNEL = "http://10.0.2.2:8081/vmlinuz"
RAMDISK = "https://images.example/initrd.gz?v=2&arch=x86_64"
ISO = "http://10.0.2.2:8081/live.iso"


def make_node(
    client: TestClient,
    instance_info: dict[str, Any],
    data_volumes: int = 1,
    boot_volume: bool = False,
) -> str:
    node = client.post(
        "/v1/nodes",
        json={
            "driver": "fake-hardware",
            "name": "diskless",
            "boot_interface": "ipxe",
            "deploy_interface": "ramdisk",
            "storage_interface": "external",
            "properties": {"capabilities": "iscsi_boot:True"},
            "instance_info": instance_info,
        },
    ).json()
    uuid: str = node["uuid"]
    add_port_and_connector(client, uuid)
    indexes = ([0] if boot_volume else []) + list(range(1, data_volumes + 1))
    for index in indexes:
        props: dict[str, Any] = {
            "target_iqn": f"iqn.2026-11.org.example:data{index}",
            "target_portal": "10.0.2.2:3260",
            "target_lun": index,
        }
        if index == 2:
            props.update(auth_method="CHAP", auth_username="d2", auth_password="Data-Pass-2")
        response = client.post(
            "/v1/volume/targets",
            json={"node_uuid": uuid, "volume_type": "iscsi", "boot_index": index,
                  "volume_id": f"vol-{index}", "properties": props},
        )  # fmt: skip
        assert response.status_code == 201, response.text
    make_available(client, uuid)
    return uuid


def _targets(client: TestClient, uuid: str) -> dict[int, str]:
    targets = client.get(f"/v1/volume/targets?node={uuid}").json()["targets"]
    return {t["boot_index"]: t["uuid"] for t in targets}


def test_kernel_and_ramdisk_script_line_by_line_then_active_then_undeploy(
    client: TestClient, boot: TestClient
) -> None:
    info = {"kernel": KERNEL, "ramdisk": RAMDISK, "kernel_append_params": "console=ttyS0  quiet"}
    uuid = make_node(client, info, data_volumes=2)
    assert client.get(f"/v1/nodes/{uuid}/validate").json()["deploy"] == {
        "result": True,
        "reason": None,
    }
    deploy(client, uuid)
    url, script = fetch_script(boot)
    events = url.removesuffix("/script.ipxe") + "/events"
    targets = _targets(client, uuid)
    assert script.splitlines() == [
        "#!ipxe",
        f"# Ironbound: node {uuid} boots a kernel and ramdisk over HTTP, with its iSCSI data volumes.",
        "# This script is rendered for this node alone and is never stored.",
        "set initiator-iqn iqn.2026-11.org.example:n1",
        "clear username",
        "clear password",
        "clear reverse-username",
        "clear reverse-password",
        f"echo Ironbound: attaching volume {targets[1]} as SAN drive 0x80",
        f"set ironbound-volume {targets[1]}",
        "sanhook --drive 0x80 iscsi:10.0.2.2::3260:1:iqn.2026-11.org.example:data1 || goto failed",
        "set username d2",
        "set password Data-Pass-2",
        "clear reverse-username",
        "clear reverse-password",
        f"echo Ironbound: attaching volume {targets[2]} as SAN drive 0x81",
        f"set ironbound-volume {targets[2]}",
        "sanhook --drive 0x81 iscsi:10.0.2.2::3260:2:iqn.2026-11.org.example:data2 || goto failed",
        "clear ironbound-volume",
        "echo Ironbound: fetching the kernel and ramdisk",
        f"kernel {KERNEL} initrd=ramdisk console=ttyS0 quiet || goto failed",
        f"initrd --name ramdisk {RAMDISK} || goto failed",
        f"imgfetch --name ironbound-report {events}/booting || echo Ironbound: could not report progress",
        "imgfree ironbound-report ||",
        "echo Ironbound: booting the kernel",
        "boot || goto failed",
        "",
        ":failed",
        "echo Ironbound: ramdisk boot failed: ${errno}",
        f"imgfetch --name ironbound-report {events}/failed?errno=${{errno}}&volume=${{ironbound-volume}} || echo Ironbound: could not report the failure",
        "exit 1",
    ]
    path = url.removeprefix(BOOT_URL)
    assert boot.get(path.removesuffix("script.ipxe") + "events/booting").status_code == 200
    node = wait_for_state(client, uuid, "active")
    assert node["driver_internal_info"]["boot_status"]["status"] == "booting"
    assert node["last_error"] is None
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "deleted"})
    node = wait_for_state(client, uuid, "available")
    assert node["power_state"] == "power off"
    assert boot.get(path).status_code == 404
    assert client.get(f"/v1/volume/targets?node={uuid}").json()["targets"] == []


def test_boot_iso_without_volumes(client: TestClient, boot: TestClient) -> None:
    uuid = make_node(client, {"boot_iso": ISO}, data_volumes=0)
    deploy(client, uuid)
    url, script = fetch_script(boot)
    events = url.removesuffix("/script.ipxe") + "/events"
    assert script.splitlines() == [
        "#!ipxe",
        f"# Ironbound: node {uuid} boots an ISO over HTTP.",
        "# This script is rendered for this node alone and is never stored.",
        f"echo Ironbound: booting the ISO {ISO} as SAN drive 0x80",
        f"imgfetch --name ironbound-report {events}/booting || echo Ironbound: could not report progress",
        "imgfree ironbound-report ||",
        f"sanboot --no-describe --drive 0x80 {ISO} || goto failed",
        "",
        ":failed",
        "echo Ironbound: ramdisk boot failed: ${errno}",
        f"imgfetch --name ironbound-report {events}/failed?errno=${{errno}}&volume=${{ironbound-volume}} || echo Ironbound: could not report the failure",
        "exit 1",
    ]


def test_boot_iso_after_a_data_volume(client: TestClient, boot: TestClient) -> None:
    uuid = make_node(client, {"boot_iso": ISO}, data_volumes=1)
    deploy(client, uuid)
    _, script = fetch_script(boot)
    assert (
        "sanhook --drive 0x80 iscsi:10.0.2.2::3260:1:iqn.2026-11.org.example:data1 || goto failed"
        in script
    )
    assert f"sanboot --no-describe --drive 0x81 {ISO} || goto failed" in script.splitlines()


def test_a_boot_volume_deploys_as_direct_does(client: TestClient, boot: TestClient) -> None:
    uuid = make_node(client, {}, data_volumes=1, boot_volume=True)
    deploy(client, uuid)
    _, script = fetch_script(boot)
    assert f"# Ironbound: node {uuid} boots from its iSCSI volumes." in script.splitlines()
    assert "sanboot --no-describe --drive 0x80 || goto failed" in script.splitlines()


def test_a_failure_report_fails_the_deploy(client: TestClient, boot: TestClient) -> None:
    uuid = make_node(client, {"kernel": KERNEL, "ramdisk": RAMDISK})
    deploy(client, uuid)
    node = report_failure(client, boot, uuid, "0x2d0c613b")
    assert "no such file (404)" in node["last_error"]
    assert node["power_state"] == "power off"


@pytest.mark.parametrize(
    ("info", "data_volumes", "interface", "reason"),
    [
        ({}, 1, "deploy", "either both kernel and ramdisk, or boot_iso"),
        ({"kernel": KERNEL}, 1, "deploy", "it gives ['kernel']"),
        ({"kernel": KERNEL, "ramdisk": RAMDISK, "boot_iso": ISO}, 1, "deploy", "and not both"),
        ({"boot_iso": ISO, "kernel_append_params": "quiet"}, 1, "deploy", "an ISO boots with"),
        ({"kernel": "tftp://x/k", "ramdisk": RAMDISK}, 1, "deploy", "http or https URL"),
        ({"kernel": "/boot/vmlinuz", "ramdisk": RAMDISK}, 1, "deploy", "http or https URL"),
        ({"kernel": 7, "ramdisk": RAMDISK}, 1, "deploy", "a string"),
        ({"kernel": "http://h/k$x", "ramdisk": RAMDISK}, 1, "deploy", "iPXE scripts cannot quote"),
        ({"kernel": "http://h/k x", "ramdisk": RAMDISK}, 1, "deploy", "without spaces"),
        ({"kernel": KERNEL, "ramdisk": RAMDISK, "kernel_append_params": "root=${x}"}, 1, "deploy", "cannot hold any of"),
        ({"kernel": KERNEL, "ramdisk": RAMDISK, "kernel_append_params": "a # b"}, 1, "deploy", "cannot hold any of"),
        ({"kernel": KERNEL, "ramdisk": RAMDISK, "kernel_append_params": 'a="b c"'}, 1, "deploy", "cannot hold any of"),
        ({"kernel": KERNEL, "ramdisk": RAMDISK, "kernel_append_params": "a || reboot"}, 1, "deploy", "the words || and &&"),
        ({"kernel": KERNEL, "ramdisk": RAMDISK, "kernel_append_params": "a\nshell"}, 1, "deploy", "on one line"),
        ({"kernel": KERNEL, "ramdisk": RAMDISK, "kernel_append_params": "x" * 2049}, 1, "deploy", "at most 2048"),
        ({"kernel": KERNEL, "ramdisk": RAMDISK}, 3, "boot", "reads at most 2 from the iBFT"),
    ],
)  # fmt: skip
def test_validation(
    client: TestClient, info: dict[str, Any], data_volumes: int, interface: str, reason: str
) -> None:
    uuid = make_node(client, info, data_volumes=data_volumes)
    shown = validation_fails(client, uuid, interface)
    assert reason in shown, shown
    if interface == "deploy":
        assert "boots a kernel and ramdisk" in shown


def test_fake_boot_cannot_be_told_apart_but_direct_needs_a_boot_volume(client: TestClient) -> None:
    uuid = make_node(client, {"kernel": KERNEL, "ramdisk": RAMDISK})
    client.patch(
        f"/v1/nodes/{uuid}", json=[{"op": "replace", "path": "/boot_interface", "value": "fake"}]
    )
    assert client.get(f"/v1/nodes/{uuid}/validate").json()["deploy"] == {
        "result": True,
        "reason": None,
    }
    client.patch(
        f"/v1/nodes/{uuid}",
        json=[{"op": "replace", "path": "/deploy_interface", "value": "direct"}],
    )
    table = client.get(f"/v1/nodes/{uuid}/validate").json()
    assert table["deploy"]["result"] is False
    assert "no volume target with boot_index 0" in table["deploy"]["reason"]


def test_an_iso_boot_takes_no_config_drive_whatever_the_storage_delivers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live ISO boots with its own boot loader's command line: no seed URL reaches it."""
    monkeypatch.setattr(ExternalStorage, "capabilities", frozenset({base.DELIVERS_CONFIG_DRIVE}))
    uuid = make_node(client, {"boot_iso": ISO, "configdrive": "H4sI"})
    shown = validation_fails(client, uuid, "deploy")
    assert shown.startswith(
        "The ramdisk deploy of an ISO (instance_info/boot_iso), which boots with its own boot "
        "loader's kernel command line, cannot deliver a config drive yet"
    )


USER_DATA = b"#cloud-config\nruncmd: [echo IRONBOUND-SEED-MARKER]\n"
DRIVE = drives.packed(
    drives.iso(
        {
            "openstack/latest/meta_data.json": b'{"uuid": "i-1", "hostname": "seeded"}',
            "openstack/latest/user_data": USER_DATA,
        }
    )
)


def deploy_with_drive(client: TestClient, uuid: str) -> None:
    body = {"target": "active", "configdrive": DRIVE}
    response = client.put(f"/v1/nodes/{uuid}/states/provision", json=body)
    assert response.status_code == 202, response.text
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "wait call-back",
        what="the deploy to wait for the node",
    )


@pytest.fixture
def seeded(client: TestClient) -> str:
    """A diskless node deployed with a config drive (the ISO form) and a data volume."""
    info = {"kernel": KERNEL, "ramdisk": RAMDISK, "kernel_append_params": "console=ttyS0"}
    uuid = make_node(client, info, data_volumes=1)
    deploy_with_drive(client, uuid)
    return uuid


def test_a_kernel_is_told_where_its_seed_is_and_only_its_host_gets_it(
    client: TestClient, boot: TestClient, seeded: str, caplog: pytest.LogCaptureFixture
) -> None:
    url, script = fetch_script(boot)
    token_url = url.removesuffix("/script.ipxe")
    seed = f"{token_url}/nocloud/"
    assert (
        f"kernel {KERNEL} initrd=ramdisk console=ttyS0 ds=nocloud-net;s={seed} || goto failed"
        in script.splitlines()
    )
    files = {}
    for name in ("meta-data", "user-data", "vendor-data", "network-config"):
        response = boot.get(seed.removeprefix(BOOT_URL) + name)
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "no-store"
        files[name] = response.content
    assert json.loads(files["meta-data"]) == {"instance-id": "i-1", "local-hostname": "seeded"}
    assert files["user-data"] == USER_DATA
    vendor = files["vendor-data"].decode()
    assert vendor.startswith("#cloud-config\n")
    assert json.loads(vendor.partition("\n")[2])["phone_home"]["url"] == f"{token_url}/events/up"
    assert files["network-config"] == b""
    for other in ("meta-data/", "nocloud", "cidata"):
        assert boot.get(seed.removeprefix(BOOT_URL) + other).status_code == 404
    assert "IRONBOUND-SEED-MARKER" not in caplog.text
    assert DRIVE not in caplog.text
    assert boot.get(token_url.removeprefix(BOOT_URL) + "/events/booting").status_code == 200
    wait_for_state(client, seeded, "active")
    client.put(f"/v1/nodes/{seeded}/states/provision", json={"target": "deleted"})
    wait_for_state(client, seeded, "available")
    assert boot.get(seed.removeprefix(BOOT_URL) + "meta-data").status_code == 404


def test_a_stranger_asking_for_the_seed_contests_the_boot(
    client: TestClient, boot: TestClient, attacker: TestClient, seeded: str
) -> None:
    url, _ = fetch_script(boot)
    seed_path = url.removeprefix(BOOT_URL).removesuffix("script.ipxe") + "nocloud/user-data"
    refused = attacker.get(seed_path)
    assert (refused.status_code, refused.text) == (404, "Not found\n")
    wait_until(
        lambda: client.get(f"/v1/nodes/{seeded}").json()["provision_state"] == "deploy failed",
        what="the contested deploy to fail",
    )
    assert "192.0.2.66" in client.get(f"/v1/nodes/{seeded}").json()["last_error"]
    assert boot.get(seed_path).status_code == 404  # the failed deploy revoked the token


def test_without_a_config_drive_the_kernel_gets_no_seed(
    client: TestClient, boot: TestClient
) -> None:
    uuid = make_node(client, {"kernel": KERNEL, "ramdisk": RAMDISK})
    deploy(client, uuid)
    url, script = fetch_script(boot)
    assert "ds=nocloud" not in script
    seed_path = url.removeprefix(BOOT_URL).removesuffix("script.ipxe") + "nocloud/meta-data"
    assert boot.get(seed_path).status_code == 404
