"""The config drive of a node on `external` storage: a read-only target of Ironbound's own
(on the `[managed]` tgtd), for the node's initiator alone, with CHAP of its own, hooked
by the boot script after the boot volume. Against a real tgtd; the node's boot volume
itself is the operator's (its properties only matter to the script here).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound.api.services import ApiServices
from ironbound.bootserver.app import create_boot_app
from ironbound.drivers.storage import config_drive_target
from ironbound.lab.tgt import TgtServer
from tests import configdrive_support as drives
from tests.api.helpers import add, create_connector, create_node, ok, patch, provision
from tests.bootserver.test_boot_flow import BOOT_URL, fetch_script, report_failure
from tests.conftest import wait_until
from tests.managed.conftest import point_at
from tests.managed.support import (
    deploy_with_drive,
    drive_target,
    initiator,
    lun_of,
    read_lun,
    write_lun,
)

BOOT_PROPS = {
    "target_iqn": "iqn.2026-12.org.example:operators-volume",
    "target_portal": "192.0.2.50:3260",
    "target_lun": 1,
    "auth_method": "CHAP",
    "auth_username": "operator",
    "auth_password": "Operator-Pass-1",
}


@pytest.fixture
def boot(services: ApiServices) -> Iterator[TestClient]:
    app = create_boot_app(services.conf, services.db, services.box, services.signals)
    with TestClient(app, base_url=BOOT_URL) as client:
        yield client


def enroll(client: TestClient, iqn: str, boot: str, data_volume: bool = False) -> str:
    """An available node on external storage with the operator's boot volume."""
    node: str = create_node(
        client, storage_interface="external", deploy_interface="direct", boot_interface=boot
    )["uuid"]
    ok(client.post("/v1/ports", json={"node_uuid": node, "address": "52:54:00:12:34:56"}), 201)
    ok(patch(client, f"/v1/nodes/{node}", add("/properties/capabilities", "iscsi_boot:True")))
    create_connector(client, node, "iqn", iqn)
    for index, props in enumerate([BOOT_PROPS] + ([BOOT_PROPS] if data_volume else [])):
        body = {"node_uuid": node, "volume_type": "iscsi", "boot_index": index,
                "volume_id": f"ext-{index}", "properties": props}  # fmt: skip
        ok(client.post("/v1/volume/targets", json=body), 201)
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    return node


def test_the_drive_is_a_target_of_its_own_hooked_after_the_boot_volume(
    client: TestClient, services: ApiServices, boot: TestClient, tgtd: TgtServer,
    conf: cfg.ConfigOpts, tmp_path: Path,
) -> None:  # fmt: skip
    iqn = initiator()
    node = enroll(client, iqn, "ipxe")
    deploy_with_drive(client, node, "active", drives.packed(drives.iso()), "wait call-back")
    target = drive_target(services, node)
    assert target is not None and target.boot_index == 1
    lun = lun_of(target)
    assert lun.target_iqn == config_drive_target.target_name(conf, node)
    assert lun.portal == tgtd.host_portals[0]
    assert lun.target_iqn in tgtd.show()
    read = read_lun(lun, iqn, tmp_path / "drive.iso")
    assert read.returncode == 0, read.stderr
    image = (tmp_path / "drive.iso").read_bytes()
    assert drives.label(image) == "config-2"
    assert drives.read(image, "/openstack/latest/meta_data.json") == b'{"uuid": "given"}'
    assert "vendor_data2.json" in str(drives.listing(image))
    assert read_lun(lun, initiator(), tmp_path / "x").returncode != 0
    assert read_lun(replace(lun, password="WrongPassword123"), iqn, tmp_path / "x").returncode
    assert "write protected" in write_lun(lun, iqn)
    # The script hooks the operator's volume, then the drive, each with its own CHAP.
    _, script = fetch_script(boot)
    host, port = lun.portal.rsplit(":", 1)
    assert f"sanhook --drive 0x81 iscsi:{host}::{port}:1:{lun.target_iqn}" in script
    assert f"set username {lun.username}" in script
    # Abort: the deploy fails and the drive's target, row and file go.
    ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": "abort"}), 202)
    wait_until(lambda: lun.target_iqn not in tgtd.show(), what="the drive's target gone")
    wait_until(lambda: drive_target(services, node) is None, what="the drive's target row gone")
    assert not list(Path(conf.state_path).rglob("config-drive-*.iso"))


def test_a_restarted_tgtd_gets_the_drive_back_and_undeploy_ends_it(
    client: TestClient, services: ApiServices, conf: cfg.ConfigOpts, own_tgtd: TgtServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    """With the default storage check (300 s), the export watch has it back in 30 s."""
    point_at(conf, own_tgtd)
    conf.clear_override("sync_storage_interval", group="conductor")
    iqn = initiator()
    node = enroll(client, iqn, "fake")
    deploy_with_drive(client, node, "active", drives.packed(drives.iso()), "active")
    target = drive_target(services, node)
    assert target is not None
    lun = lun_of(target)
    own_tgtd.stop()
    own_tgtd.start()
    wait_until(
        lambda: read_lun(lun, iqn, tmp_path / "again.iso").returncode == 0,
        timeout=30.0,
        what="the drive's restoration within 30 s",
    )
    assert "write protected" in write_lun(lun, iqn)
    provision(client, node, "deleted", "available")
    assert lun.target_iqn not in own_tgtd.show()
    assert drive_target(services, node) is None
    assert [t["volume_id"] for t in client.get("/v1/volume/targets").json()["targets"]] == []


def test_a_drive_the_node_cannot_log_in_to_fails_the_deploy_by_name(
    client: TestClient, services: ApiServices, boot: TestClient, tgtd: TgtServer
) -> None:
    """iPXE reports the target it was hooking when the drive's CHAP login fails."""
    node = enroll(client, initiator(), "ipxe")
    deploy_with_drive(client, node, "active", drives.packed(drives.iso()), "wait call-back")
    target = drive_target(services, node)
    assert target is not None
    shown = report_failure(client, boot, node, "0x410d613c", target.uuid)
    assert f"the config drive's target (volume target {target.uuid}" in shown["last_error"]
    assert "rejected the CHAP login" in shown["last_error"]
    wait_until(lambda: drive_target(services, node) is None, what="the drive's target row gone")


def test_a_node_with_a_data_volume_takes_no_drive(
    client: TestClient, services: ApiServices, tgtd: TgtServer
) -> None:
    """Linux reads two targets from the iBFT: the boot volume and the drive."""
    node = enroll(client, initiator(), "fake", data_volume=True)
    shown = deploy_with_drive(client, node, "active", drives.packed(drives.iso()), "deploy failed")
    assert "data volumes (ext-1)" in shown["last_error"]
    assert "config-drive" not in tgtd.show()
