"""Enrolling nodes on the managed storage interface, and looking at their volumes from
outside: the database row (secrets opened) and a userspace initiator (libiscsi)."""

from __future__ import annotations

import subprocess
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ironbound import records
from ironbound.api.services import ApiServices
from ironbound.db import any_table, managed_volumes, snapshots
from ironbound.db.models import Node
from tests.api.helpers import add, create_connector, create_node, ok, patch, provision
from tests.conftest import wait_until
from tests.images.conftest import make_qcow2, sha256


def initiator() -> str:
    return f"iqn.2026-12.org.example:{uuidlib.uuid4().hex[:12]}"


def enroll(
    client: TestClient, iqn: str, boot: str = "fake", mac: str | None = None, **instance_info: Any
) -> str:
    """An available fake-hardware node on managed storage and the `direct` deploy.

    With the fake boot interface a deploy lands in active at once; with ipxe it waits
    for a boot report (which a test may make as the node's iPXE, from `mac`, or never).
    """
    node = create_node(
        client,
        storage_interface="managed",
        deploy_interface="direct",
        boot_interface=boot,
        instance_info=instance_info,
    )["uuid"]
    mac = mac or ":".join(f"{b:02x}" for b in (0x52, 0x54, *uuidlib.uuid4().bytes[:4]))
    ok(client.post("/v1/ports", json={"node_uuid": node, "address": mac}), 201)
    ok(patch(client, f"/v1/nodes/{node}", add("/properties/capabilities", "iscsi_boot:True")))
    create_connector(client, node, "iqn", iqn)
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    return str(node)


def image_folder(tmp_path: Path) -> Path:
    """Where a test's images go: the file:// folder to allow (never the state's parent)."""
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    return folder


def image(tmp_path: Path, pattern: int) -> dict[str, str]:
    """instance_info for a qcow2 image with `pattern` in the test's image_folder."""
    made = make_qcow2(image_folder(tmp_path) / f"os-{pattern:x}.qcow2", pattern=pattern)
    return {"image_source": f"file://{made}", "image_checksum": f"sha256:{sha256(made)}"}


def set_info(client: TestClient, node: str, info: dict[str, Any]) -> None:
    """Add (or replace) these instance_info keys."""
    ok(
        patch(
            client, f"/v1/nodes/{node}", *(add(f"/instance_info/{k}", v) for k, v in info.items())
        )
    )


def boot_target(client: TestClient, node: str) -> dict[str, Any]:
    found = ok(client.get(f"/v1/nodes/{node}/volume/targets?detail=True"))["targets"]
    (target,) = [t for t in found if t["boot_index"] == 0]
    return dict(target)


def name_volume(client: TestClient, node: str, volume_uuid: str) -> None:
    """Give the node a boot target that names the managed volume (to share it)."""
    body = {"node_uuid": node, "volume_type": "iscsi", "boot_index": 0, "volume_id": volume_uuid}
    ok(client.post("/v1/volume/targets", json=body), 201)


def volume_of(services: ApiServices, volume_uuid: str) -> records.ManagedVolume | None:
    with services.db.read() as session:
        return managed_volumes.get(session, volume_uuid, services.box)


def login(
    portal: str, volume: records.ManagedVolume, iqn: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """iscsi-inq as initiator `iqn` with the volume's CHAP (or `password` instead)."""
    assert volume.auth_password is not None
    secret = password or volume.auth_password.reveal()
    url = f"iscsi://{volume.auth_username}%{secret}@{portal}/{volume.target_iqn}/{volume.lun}"
    return subprocess.run(
        ["iscsi-inq", "-i", iqn, url], capture_output=True, text=True, timeout=30, check=False
    )


@dataclass(frozen=True)
class Lun:
    """A LUN and the CHAP account that opens it."""

    portal: str
    target_iqn: str
    number: int
    username: str
    password: str

    def options(self, iqn: str) -> str:
        """QEMU's iscsi block driver options for it, as initiator `iqn`."""
        return (
            f"driver=iscsi,transport=tcp,portal={self.portal},target={self.target_iqn},"
            f"lun={self.number},user={self.username},password={self.password},"
            f"initiator-name={iqn}"
        )


def read_lun(lun: Lun, iqn: str, out: Path) -> subprocess.CompletedProcess[str]:
    """The LUN's bytes into `out`, read as initiator `iqn` (QEMU's libiscsi)."""
    return subprocess.run(
        ["qemu-img", "convert", "--image-opts", lun.options(iqn), "-O", "raw", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def write_lun(lun: Lun, iqn: str) -> str:
    """Try to write a sector as initiator `iqn`; what qemu-io said (it fails on a read-only
    LUN with "write protected")."""
    done = subprocess.run(
        ["qemu-io", "--image-opts", "-c", "write 0 512", lun.options(iqn)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0, "the write went through"
    return done.stdout + done.stderr


def deploy_with_drive(
    client: TestClient, node: str, verb: str, drive: str, state: str
) -> dict[str, Any]:
    """`verb` (active, rebuild) with config drive `drive`; the node once it shows `state`
    (wait call-back keeps its target state, so the state alone is waited for)."""
    body = {"target": verb, "configdrive": drive}
    ok(client.put(f"/v1/nodes/{node}/states/provision", json=body), 202)
    shown: dict[str, Any] = {}

    def reached() -> bool:
        shown.update(ok(client.get(f"/v1/nodes/{node}")))
        return bool(shown["provision_state"] == state)

    wait_until(reached, what=state)
    return shown


def drive_target(services: ApiServices, node: str) -> records.TargetInfo | None:
    """The node's config drive target, secrets open, as the boot server sees it."""
    with services.db.read() as session:
        row = any_table.by_uuid(session, Node, node)
        assert row is not None
        found = snapshots.load(session, row.id, services.box).volume_targets
    return next((t for t in found if t.volume_id == "config-drive"), None)


def lun_of(target: records.TargetInfo) -> Lun:
    props = target.properties
    return Lun(
        str(props["target_portal"]), str(props["target_iqn"]), 1,
        str(props["auth_username"]), records.secret_value(props["auth_password"]),
    )  # fmt: skip
