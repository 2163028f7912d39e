"""Enrolling nodes on the managed storage interface, and looking at their volumes from
outside: the database row (secrets opened) and a userspace initiator (libiscsi)."""

from __future__ import annotations

import subprocess
import uuid as uuidlib
from typing import Any

from fastapi.testclient import TestClient

from ironbound import records
from ironbound.api.services import ApiServices
from ironbound.db import managed_volumes
from tests.api.helpers import add, create_connector, create_node, ok, patch, provision


def initiator() -> str:
    return f"iqn.2026-12.org.example:{uuidlib.uuid4().hex[:12]}"


def enroll(client: TestClient, iqn: str, boot: str = "fake", **instance_info: Any) -> str:
    """An available fake-hardware node on managed storage and the `direct` deploy.

    With the fake boot interface a deploy lands in active at once; with ipxe it waits
    for a boot report that never comes (so that a test can abort it).
    """
    node = create_node(
        client,
        storage_interface="managed",
        deploy_interface="direct",
        boot_interface=boot,
        instance_info=instance_info,
    )["uuid"]
    mac = ":".join(f"{b:02x}" for b in (0x52, 0x54, *uuidlib.uuid4().bytes[:4]))
    ok(client.post("/v1/ports", json={"node_uuid": node, "address": mac}), 201)
    ok(patch(client, f"/v1/nodes/{node}", add("/properties/capabilities", "iscsi_boot:True")))
    create_connector(client, node, "iqn", iqn)
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    return str(node)


def boot_target(client: TestClient, node: str) -> dict[str, Any]:
    found = ok(client.get(f"/v1/nodes/{node}/volume/targets?detail=True"))["targets"]
    (target,) = [t for t in found if t["boot_index"] == 0]
    return dict(target)


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
