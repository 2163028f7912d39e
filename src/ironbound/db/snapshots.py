"""The one loader of a node snapshot, for the conductor and the boot server alike.

What a deploy validated and what the boot server later renders must be the
same records, read the same way; so both build their `NodeSnapshot` here.
Secrets are opened from their sealed columns and handed on as `Secret`s.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ironbound import errors, records, sensitive
from ironbound.config import INTERFACE_TYPES
from ironbound.db.models import Node, Port, VolumeConnector, VolumeTarget
from ironbound.sensitive import Secret, SecretBox


def _secret(value: Any) -> Secret:
    """A sealed value as a `Secret`: a document (a config drive's JSON form) as JSON."""
    return Secret(json.dumps(value) if isinstance(value, dict | list) else str(value))


def _with_secrets(masked: dict[str, Any], sealed: str | None, box: SecretBox) -> dict[str, Any]:
    revealed = box.open(sealed)
    return sensitive.reveal(masked, {k: _secret(v) for k, v in revealed.items()})


_NODE_COLUMNS = (
    Node.id, Node.uuid, Node.name, Node.driver, Node.driver_info, Node.driver_secrets,
    Node.driver_internal_info, Node.instance_info, Node.instance_secrets, Node.properties,
    Node.provision_state, Node.target_provision_state, Node.power_state, Node.maintenance,
    Node.instance_uuid, Node.last_error,
    *(getattr(Node, f"{iface}_interface") for iface in INTERFACE_TYPES),
)  # fmt: skip
# The statements a conductor runs for every job, built once: building one costs
# more than SQLite takes to run it.
_NODE_INFO = select(*_NODE_COLUMNS).where(Node.id == bindparam("node_id"))
# Only the columns the records hold, run as plain Core on the session's connection:
# loading ORM objects cost more than the queries.
_PORTS = (
    select(Port.uuid, Port.address, Port.pxe_enabled, Port.extra)
    .where(Port.node_id == bindparam("node_id"))
    .order_by(Port.id)
)
_CONNECTORS = (
    select(VolumeConnector.uuid, VolumeConnector.type, VolumeConnector.connector_id)
    .where(VolumeConnector.node_id == bindparam("node_id"))
    .order_by(VolumeConnector.id)
)
_TARGETS = (
    select(
        VolumeTarget.uuid, VolumeTarget.volume_type, VolumeTarget.boot_index,
        VolumeTarget.volume_id, VolumeTarget.properties, VolumeTarget.secret_properties,
        VolumeTarget.extra,
    )
    .where(VolumeTarget.node_id == bindparam("node_id"))
    .order_by(VolumeTarget.boot_index)
)  # fmt: skip


def node_info(session: Session, node_id: int, box: SecretBox) -> records.NodeInfo:
    """The node as a driver sees it: only the columns that holds, as a plain row.

    :raises NodeNotFound: the node is gone.
    """
    row = session.connection().execute(_NODE_INFO, {"node_id": node_id}).first()
    if row is None:
        raise errors.NodeNotFound(node=node_id)
    return records.NodeInfo(
        id=row.id,
        uuid=row.uuid,
        name=row.name,
        driver=row.driver,
        driver_info=_with_secrets(row.driver_info, row.driver_secrets, box),
        driver_internal_info=dict(row.driver_internal_info),
        instance_info=_with_secrets(row.instance_info, row.instance_secrets, box),
        properties=dict(row.properties),
        provision_state=row.provision_state,
        target_provision_state=row.target_provision_state,
        power_state=row.power_state,
        maintenance=row.maintenance,
        interfaces={iface: getattr(row, f"{iface}_interface") or "" for iface in INTERFACE_TYPES},
        instance_uuid=row.instance_uuid,
        last_error=row.last_error,
    )


def load(session: Session, node_id: int, box: SecretBox) -> records.NodeSnapshot:
    """The node with its ports (by id), connectors (by id) and targets (by boot_index).

    :raises NodeNotFound: the node is gone.
    """
    session.flush()  # what this transaction changed through the ORM, for the Core reads
    node = node_info(session, node_id, box)
    run = session.connection().execute
    key = {"node_id": node_id}
    ports = [
        records.PortInfo(uuid=p.uuid, address=p.address, pxe_enabled=p.pxe_enabled, extra=p.extra)
        for p in run(_PORTS, key)
    ]
    connectors = [
        records.ConnectorInfo(uuid=c.uuid, type=c.type, connector_id=c.connector_id)
        for c in run(_CONNECTORS, key)
    ]
    targets = [
        records.TargetInfo(
            uuid=t.uuid,
            volume_type=t.volume_type,
            boot_index=t.boot_index,
            volume_id=t.volume_id,
            properties=_with_secrets(t.properties, t.secret_properties, box),
            extra=t.extra,
        )
        for t in run(_TARGETS, key)
    ]
    return records.NodeSnapshot(node, ports, connectors, targets)
