"""What the fleet state machine looks at from outside: the volumes and their bytes, the
exports the database says nodes hold and what tgtd serves, and the operator's LUN of
the `external` node."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from ironbound import records
from ironbound.api.services import ApiServices
from ironbound.db import managed_volumes
from ironbound.db.models import ManagedVolume
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import create_connector, create_node, ok, provision
from tests.images.conftest import pattern_at

OPERATOR_IQN = "iqn.2026-12.org.example:operators-lun"
OPERATOR_USER = "operator"
OPERATOR_PASSWORD = "Operator-Pass-1"


class OperatorLun:
    """The external node's boot volume: a LUN on the test's tgtd for the node alone, with
    CHAP, as an operator serves it (served again after a tgtd restart, as theirs would be)."""

    def __init__(self, tgtd: TgtServer, folder: Path, node_iqn: str) -> None:
        self.tgtd = tgtd
        self.node_iqn = node_iqn
        self.path = folder / "operators-lun.img"
        with self.path.open("wb") as disk:
            disk.truncate(64 * 2**20)

    def serve(self) -> None:
        self.tgtd.add_target(OPERATOR_IQN, self.path)
        self.tgtd.allow_initiator(OPERATOR_IQN, self.node_iqn)
        self.tgtd.add_chap(OPERATOR_IQN, OPERATOR_USER, OPERATOR_PASSWORD)

    def properties(self) -> dict[str, Any]:
        return {
            "target_iqn": OPERATOR_IQN,
            "target_portal": self.tgtd.host_portals[0],
            "target_lun": 1,
            "auth_method": "CHAP",
            "auth_username": OPERATOR_USER,
            "auth_password": OPERATOR_PASSWORD,
        }


def enroll_external(client: TestClient, iqn: str, lun: OperatorLun) -> str:
    """An available node on external storage booting the operator's LUN (fake boot)."""
    node: str = create_node(
        client, storage_interface="external", deploy_interface="direct", boot_interface="fake"
    )["uuid"]
    ok(client.post("/v1/ports", json={"node_uuid": node, "address": "52:54:00:e0:00:01"}), 201)
    body = [{"op": "add", "path": "/properties/capabilities", "value": "iscsi_boot:True"}]
    ok(client.patch(f"/v1/nodes/{node}", json=body))
    create_connector(client, node, "iqn", iqn)
    add_boot_target(client, node, lun.properties())
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    return node


def add_boot_target(client: TestClient, node: str, properties: dict[str, Any]) -> None:
    """The operator's volume as the node's boot volume (again after each undeploy, which
    removes the node's targets as Ironic's does)."""
    target = {"node_uuid": node, "volume_type": "iscsi", "boot_index": 0,
              "volume_id": "ext-0", "properties": properties}  # fmt: skip
    ok(client.post("/v1/volume/targets", json=target), 201)


def volumes(services: ApiServices) -> dict[str, records.ManagedVolume]:
    """Every managed volume row, by uuid."""
    with services.db.read() as session:
        uuids = list(session.scalars(select(ManagedVolume.uuid)))
        found = [managed_volumes.get(session, uuid, services.box) for uuid in uuids]
    return {v.uuid: v for v in found if v is not None}


def fingerprint(path: str) -> tuple[bytes, bytes] | None:
    """What a node or an image write changes: the first bytes, and the image's pattern."""
    disk = Path(path)
    if not disk.exists():
        return None
    with disk.open("rb") as opened:
        return opened.read(32), pattern_at(disk)


@dataclass
class Export:
    """A target the database says someone holds: its holders and CHAP accounts."""

    holders: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)


def held_exports(
    client: TestClient, services: ApiServices, node_uuids: list[str]
) -> dict[str, Export]:
    """Target IQN -> who holds it: managed rows attached, and the config drive targets the
    nodes' records name."""
    found: dict[str, Export] = {}
    for volume in volumes(services).values():
        if volume.state == records.VOLUME_ATTACHED:
            export = found.setdefault(volume.target_iqn, Export())
            export.holders |= set(volume.initiators)
            export.accounts |= {
                a for a in (volume.auth_username, volume.reverse_auth_username) if a
            }
    for node in node_uuids:
        made = ok(client.get(f"/v1/nodes/{node}"))["driver_internal_info"].get(
            records.CONFIG_DRIVE_TARGET
        )
        if made:
            export = found.setdefault(str(made["iqn"]), Export())
            export.holders.add(node)
            export.accounts.add(str(made["account"]))
    return found


def live_targets(tgtd: TgtServer) -> set[str]:
    return {
        line.split(": ", 1)[1] for line in tgtd.show().splitlines() if line.startswith("Target ")
    }


def live_accounts(tgtd: TgtServer) -> set[str]:
    """tgtd's CHAP account names ("Account list:" and one name a line)."""
    return {line.strip() for line in tgtd.accounts().splitlines()[1:] if line.strip()}
