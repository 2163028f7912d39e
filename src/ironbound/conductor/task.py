"""NodeTask: a flow's handle on one node, and the `Task` the drivers see.

A task is a snapshot of the node with its ports, volume connectors and
volume targets, secrets revealed as `Secret` objects, plus the node's
composite driver. Every write is its own short transaction, so no database
lock is held while a driver talks to hardware; the conductor's reservation
on the node (taken when the job was claimed) is what keeps others out.
"""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select

from ironbound import secrets
from ironbound.conductor import states
from ironbound.conductor.context import ConductorContext
from ironbound.config import INTERFACE_TYPES
from ironbound.db import events, nodes, tokens
from ironbound.db.base import utcnow
from ironbound.db.models import Node, Port, VolumeConnector, VolumeTarget
from ironbound.drivers import base
from ironbound.secrets import Secret


def _wrap_secrets(
    masked: dict[str, Any], sealed: str | None, box: secrets.SecretBox
) -> dict[str, Any]:
    revealed = box.open(sealed)
    return secrets.reveal(masked, {k: Secret(str(v)) for k, v in revealed.items()})


class NodeTask:
    """One node, loaded for a flow. Implements `ironbound.drivers.base.Task`."""

    node: base.NodeInfo
    ports: Sequence[base.PortInfo]
    volume_connectors: Sequence[base.ConnectorInfo]
    volume_targets: Sequence[base.TargetInfo]
    driver: base.Driver

    def __init__(self, ctx: ConductorContext, node_id: int) -> None:
        self.ctx = ctx
        self.conf = ctx.conf
        self.node_id = node_id
        self.refresh()

    def refresh(self) -> None:
        """Reload the snapshot (after this task or someone else changed the node)."""
        box = self.ctx.box
        with self.ctx.db.read() as session:
            row = nodes.get_by_id(session, self.node_id)
            self.node = base.NodeInfo(
                id=row.id,
                uuid=row.uuid,
                name=row.name,
                driver=row.driver,
                driver_info=_wrap_secrets(row.driver_info, row.driver_secrets, box),
                driver_internal_info=dict(row.driver_internal_info),
                instance_info=_wrap_secrets(row.instance_info, row.instance_secrets, box),
                properties=dict(row.properties),
                provision_state=row.provision_state,
                target_provision_state=row.target_provision_state,
                power_state=row.power_state,
                maintenance=row.maintenance,
                interfaces={
                    iface: getattr(row, f"{iface}_interface") or "" for iface in INTERFACE_TYPES
                },
            )
            self.ports = [
                base.PortInfo(
                    uuid=p.uuid, address=p.address, pxe_enabled=p.pxe_enabled, extra=p.extra
                )
                for p in session.scalars(
                    select(Port).where(Port.node_id == row.id).order_by(Port.id)
                )
            ]
            self.volume_connectors = [
                base.ConnectorInfo(uuid=c.uuid, type=c.type, connector_id=c.connector_id)
                for c in session.scalars(
                    select(VolumeConnector)
                    .where(VolumeConnector.node_id == row.id)
                    .order_by(VolumeConnector.id)
                )
            ]
            self.volume_targets = [
                base.TargetInfo(
                    uuid=t.uuid,
                    volume_type=t.volume_type,
                    boot_index=t.boot_index,
                    volume_id=t.volume_id,
                    properties=_wrap_secrets(t.properties, t.secret_properties, box),
                    extra=t.extra,
                )
                for t in session.scalars(
                    select(VolumeTarget)
                    .where(VolumeTarget.node_id == row.id)
                    .order_by(VolumeTarget.boot_index)
                )
            ]
        self.driver = self.ctx.registry.driver_for(self.node.driver, self.node.interfaces)

    # --- the writes drivers may make (the `Task` protocol) -------------------

    def record(self, message: str, *, event_type: str = "progress", severity: str = "info") -> None:
        """Add the event, and show it as the node's driver_internal_info.progress.

        Every client can see progress that way (`baremetal node show`), since
        Ironic's node history API lies beyond the microversions served here.
        """
        with self.ctx.db.write() as session:
            events.add(
                session,
                self.node_id,
                message,
                event_type=event_type,
                severity=severity,
                conductor=self.ctx.hostname,
            )
            row = nodes.get_by_id(session, self.node_id)
            stamp = utcnow().isoformat(timespec="seconds")
            row.driver_internal_info = {
                **row.driver_internal_info,
                "progress": f"{stamp} {message}",
            }

    def set_internal_info(self, **values: Any) -> None:
        with self.ctx.db.write() as session:
            row = nodes.get_by_id(session, self.node_id)
            info = dict(row.driver_internal_info)
            for key, value in values.items():
                if value is None:
                    info.pop(key, None)
                else:
                    info[key] = value
            row.driver_internal_info = info
        self.refresh()

    def set_target_properties(self, target_uuid: str, properties: Mapping[str, Any]) -> None:
        with self.ctx.db.write() as session:
            target = session.scalars(
                select(VolumeTarget).where(
                    VolumeTarget.uuid == target_uuid, VolumeTarget.node_id == self.node_id
                )
            ).one()
            plain = {k: (v.reveal() if isinstance(v, Secret) else v) for k, v in properties.items()}
            masked, found = secrets.split(plain, {})
            target.properties = masked
            target.secret_properties = self.ctx.box.seal(found)
        self.refresh()

    def delete_volume_targets(self) -> None:
        with self.ctx.db.write() as session:
            session.execute(delete(VolumeTarget).where(VolumeTarget.node_id == self.node_id))
        self.refresh()

    def issue_boot_token(self) -> str:
        token = pysecrets.token_urlsafe(32)
        sealed = self.ctx.box.seal({"token": token})
        assert sealed is not None
        with self.ctx.db.write() as session:
            tokens.store(session, self.node_id, token, sealed)
        return token

    def revoke_boot_token(self) -> None:
        with self.ctx.db.write() as session:
            tokens.revoke(session, self.node_id)

    def power_action(self, power_state: str) -> None:
        power = self.driver.power
        self.save(target_power_state=states.POWER_TARGET_AFTER_ACTION.get(power_state, power_state))
        try:
            if power_state in (states.REBOOT, states.SOFT_REBOOT):
                power.reboot(self, soft=power_state == states.SOFT_REBOOT)
                reached = states.POWER_ON
            else:
                power.set_power_state(self, power_state)
                reached = states.POWER_OFF if power_state == states.SOFT_POWER_OFF else power_state
        finally:
            self.save(target_power_state=None)
        self.save(power_state=reached)
        self.record(f"power state is now {reached}")

    # --- conductor-side writes ----------------------------------------------

    def save(self, **fields: Any) -> None:
        """Write node fields; a provision_state change also stamps provision_updated_at."""
        with self.ctx.db.write() as session:
            row = nodes.get_by_id(session, self.node_id)
            apply_node_fields(row, fields)
        self.refresh()


def apply_node_fields(row: Node, fields: Mapping[str, Any]) -> None:
    """Set node columns, stamping provision_updated_at when the provision state moves."""
    if "provision_state" in fields and fields["provision_state"] != row.provision_state:
        row.provision_updated_at = utcnow()
    for key, value in fields.items():
        setattr(row, key, value)
