"""Writes a conductor makes to a node's volume targets."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ironbound.db.models import VolumeTarget


def set_target_properties(
    session: Session, node_id: int, target_uuid: str, masked: dict[str, object], sealed: str | None
) -> None:
    """Replace one of the node's targets' properties (masked) and sealed secrets."""
    target = session.scalars(
        select(VolumeTarget).where(
            VolumeTarget.uuid == target_uuid, VolumeTarget.node_id == node_id
        )
    ).one()
    target.properties = masked
    target.secret_properties = sealed


def delete_targets(
    session: Session, node_id: int, target_uuids: Sequence[str] | None = None
) -> None:
    """Delete the node's targets: these, or every one."""
    query = delete(VolumeTarget).where(VolumeTarget.node_id == node_id)
    if target_uuids is not None:
        query = query.where(VolumeTarget.uuid.in_(target_uuids))
    session.execute(query)


def add_target(
    session: Session, node_id: int, volume_type: str, boot_index: int, volume_id: str
) -> str:
    """Create a target without properties on the node; returns its UUID."""
    target_uuid = str(uuidlib.uuid4())
    session.add(
        VolumeTarget(
            uuid=target_uuid,
            node_id=node_id,
            volume_type=volume_type,
            boot_index=boot_index,
            volume_id=volume_id,
            properties={},
            extra={},
        )
    )
    session.flush()
    return target_uuid
