"""Writes a conductor makes to a node's volume targets."""

from __future__ import annotations

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


def delete_targets(session: Session, node_id: int) -> None:
    session.execute(delete(VolumeTarget).where(VolumeTarget.node_id == node_id))
