"""Rendering iPXE scripts from the database at request time.

The Jinja2 environment is strict (an undefined value is an error, never an
empty string in a boot script) and does no HTML escaping (iPXE is not HTML).
"""

from __future__ import annotations

import functools

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from ironbound import sanplan, secrets
from ironbound.db.models import Node, VolumeConnector, VolumeTarget
from ironbound.drivers.base import ConnectorInfo, TargetInfo
from ironbound.secrets import Secret, SecretBox


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("ironbound.bootserver", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 (iPXE scripts, not HTML)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def entry_script(base_url: str) -> str:
    return _environment().get_template("entry.ipxe.j2").render(base_url=base_url)


def chain_script(url: str) -> str:
    return f"#!ipxe\nchain {url}\n"


def node_plan(session: Session, node: Node, box: SecretBox) -> sanplan.SanPlan:
    """The node's SAN plan from its current records (secrets decrypted here only)."""
    connectors = [
        ConnectorInfo(uuid=c.uuid, type=c.type, connector_id=c.connector_id)
        for c in session.scalars(
            select(VolumeConnector)
            .where(VolumeConnector.node_id == node.id)
            .order_by(VolumeConnector.id)
        )
    ]
    targets = []
    for t in session.scalars(select(VolumeTarget).where(VolumeTarget.node_id == node.id)):
        revealed = {k: Secret(str(v)) for k, v in box.open(t.secret_properties).items()}
        targets.append(
            TargetInfo(
                uuid=t.uuid,
                volume_type=t.volume_type,
                boot_index=t.boot_index,
                volume_id=t.volume_id,
                properties=secrets.reveal(t.properties, revealed),
            )
        )
    return sanplan.build(connectors, targets)


def volume_script(node_uuid: str, plan: sanplan.SanPlan, events_url: str) -> str:
    return (
        _environment()
        .get_template("boot_volume.ipxe.j2")
        .render(node_uuid=node_uuid, plan=plan, events_url=events_url)
    )
