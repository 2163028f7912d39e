"""A node's config drive on its managed volume's target, against a real tgtd.

The drive is LUN 2 of the node's own target: read-only, behind the node's ACL and
CHAP, with Ironbound's phone_home in its vendor data. It is replaced at rebuild,
restored with the export after a tgtd restart, and gone after undeploy and abort.
What a userspace initiator (QEMU's libiscsi) reads from it is what the node reads.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound import records
from ironbound.api.services import ApiServices
from ironbound.lab.tgt import TgtServer
from tests import configdrive_support as drives
from tests.api.helpers import ok
from tests.conftest import wait_for_state, wait_until
from tests.managed.conftest import point_at
from tests.managed.support import (
    Lun,
    boot_target,
    deploy_with_drive,
    enroll,
    initiator,
    read_lun,
    set_info,
    volume_of,
    write_lun,
)

BOOT_URL = "http://192.0.2.1:8080"


def read_drive(
    portal: str, volume: records.ManagedVolume, iqn: str, out: Path, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """LUN 2 of the volume's target into `out`, as initiator `iqn` with the volume's CHAP."""
    assert volume.auth_password is not None and volume.auth_username is not None
    secret = password or volume.auth_password.reveal()
    return read_lun(Lun(portal, volume.target_iqn, 2, volume.auth_username, secret), iqn, out)


def drive_of(portal: str, volume: records.ManagedVolume, iqn: str, folder: Path) -> bytes:
    out = folder / "read.iso"
    read = read_drive(portal, volume, iqn, out)
    assert read.returncode == 0, read.stderr
    return out.read_bytes()


def lun_2(tgtd: TgtServer, target_iqn: str) -> list[str]:
    """tgtd's lines for LUN 2 of the target: its backing file and read-only flag (none when
    the target, or its LUN 2, is gone)."""
    target = next((t for t in tgtd.show().split("Target ") if target_iqn in t), "")
    if "LUN: 2" not in target:
        return []
    return [line.strip() for line in target.split("LUN: 2", 1)[1].splitlines()[1:12]]


def test_the_drive_is_the_nodes_alone_read_only_and_confirms_the_boot(
    client: TestClient, services: ApiServices, tgtd: TgtServer, conf: cfg.ConfigOpts, tmp_path: Path
) -> None:
    conf.set_override("http_url", BOOT_URL, group="deploy")
    iqn = initiator()
    node = enroll(client, iqn, boot="ipxe")
    deploy_with_drive(client, node, "active", drives.packed(drives.iso()), "wait call-back")
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None
    assert "Readonly: Yes" in lun_2(tgtd, volume.target_iqn)
    portal = tgtd.host_portals[0]
    image = drive_of(portal, volume, iqn, tmp_path)
    assert drives.label(image) == "config-2"
    assert drives.read(image, "/openstack/latest/meta_data.json") == b'{"uuid": "given"}'
    vendor = json.loads(drives.read(image, "/openstack/latest/vendor_data2.json"))
    (part,) = (
        vendor["cloud-init"] if isinstance(vendor["cloud-init"], list) else [vendor["cloud-init"]]
    )
    phone_home = json.loads(part.removeprefix("#cloud-config\n"))["phone_home"]
    assert phone_home["url"].startswith(f"{BOOT_URL}/boot/")
    assert phone_home["url"].endswith("/events/up")
    # The node's ACL and CHAP guard it, and nothing writes to it.
    assert read_drive(portal, volume, initiator(), tmp_path / "x").returncode != 0
    assert read_drive(portal, volume, iqn, tmp_path / "x", "WrongPassword123").returncode != 0
    secret = records.secret_value(volume.auth_password)
    lun = Lun(portal, volume.target_iqn, 2, str(volume.auth_username), secret)
    assert "write protected" in write_lun(lun, iqn)
    (stored,) = Path(conf.state_path).rglob("config-drive-*.iso")
    assert stored.stat().st_mode & 0o777 == 0o600
    # Abort: the deploy fails, and the drive goes with the export.
    ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": "abort"}), 202)
    wait_until(lambda: lun_2(tgtd, volume.target_iqn) == [], what="the drive's LUN gone")
    wait_until(lambda: not stored.exists(), what="the drive's file removed")


def test_rebuild_replaces_the_drive_and_a_restart_restores_it(
    client: TestClient, services: ApiServices, conf: cfg.ConfigOpts, own_tgtd: TgtServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    point_at(conf, own_tgtd)
    iqn = initiator()
    node = enroll(client, iqn)
    deploy_with_drive(client, node, "active", drives.packed(drives.iso()), "active")
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None
    portal = own_tgtd.host_portals[0]
    assert drives.read(drive_of(portal, volume, iqn, tmp_path), "/openstack/latest/user_data")
    second = {**drives.FILES, "openstack/latest/user_data": b"#cloud-config\nhostname: two\n"}
    deploy_with_drive(client, node, "rebuild", drives.packed(drives.iso(second)), "active")
    volume = volume_of(services, volume.uuid)
    assert volume is not None
    image = drive_of(portal, volume, iqn, tmp_path)
    assert drives.read(image, "/openstack/latest/user_data") == b"#cloud-config\nhostname: two\n"

    own_tgtd.stop()
    own_tgtd.start()
    wait_until(
        lambda: read_drive(portal, volume, iqn, tmp_path / "again.iso").returncode == 0,
        what="the drive's restoration with the export",
    )
    assert (tmp_path / "again.iso").read_bytes() == image
    assert "Readonly: Yes" in lun_2(own_tgtd, volume.target_iqn)
    ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"}), 202)
    wait_for_state(client, node, "available")
    assert volume.target_iqn not in own_tgtd.show()
    assert not list(Path(conf.state_path).rglob("config-drive-*.iso"))


def test_a_shareable_volume_takes_no_drive(
    client: TestClient, services: ApiServices, tgtd: TgtServer
) -> None:
    """Every node that attaches a shared target would see the drive: the deploy fails."""
    iqn = initiator()
    node = enroll(client, iqn, keep_boot_volume=True)
    ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"}), 202)
    wait_for_state(client, node, "active")
    volume_uuid = boot_target(client, node)["volume_id"]
    ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"}), 202)
    wait_for_state(client, node, "available")
    body = {"shareable": True}
    assert (
        client.patch(
            f"/v1/volume/managed/{volume_uuid}",
            json=[{"op": "replace", "path": "/shareable", "value": True}],
        ).status_code
        == 200
    ), body
    set_info(client, node, {"keep_boot_volume": True})
    deploy_with_drive(client, node, "active", drives.packed(drives.iso()), "deploy failed")
    error = client.get(f"/v1/nodes/{node}").json()["last_error"]
    assert "shareable" in error and "config drive" in error
    volume = volume_of(services, volume_uuid)
    assert volume is not None and volume.state == "kept"
