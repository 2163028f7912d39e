"""The rows of the volumes Ironbound stores and exports itself (`managed` storage).

Drivers see them as `records.ManagedVolume`, with the CHAP secrets opened into
`Secret` objects; the row keeps the usernames in the clear and the secrets
sealed, as volume targets do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from ironbound import records, sensitive, states
from ironbound.db import nodes
from ironbound.db.models import ManagedVolume, Node

ATTACHED = records.VOLUME_ATTACHED
_SECRET_FIELDS = ("auth_password", "reverse_auth_password")


def _record(
    session: Session, row: ManagedVolume, box: sensitive.SecretBox
) -> records.ManagedVolume:
    opened = box.open(row.secrets)
    owner = nodes.find_by_id(session, row.node_id) if row.node_id is not None else None
    secrets = {k: sensitive.Secret(str(opened[k])) if k in opened else None for k in _SECRET_FIELDS}
    return records.ManagedVolume(
        uuid=row.uuid,
        state=row.state,
        size_bytes=row.size_bytes,
        path=row.path,
        target_iqn=row.target_iqn,
        lun=row.lun,
        node_uuid=owner.uuid if owner is not None else None,
        shareable=row.shareable,
        image=row.image,
        initiators=dict(row.initiators),
        auth_username=row.auth_username,
        reverse_auth_username=row.reverse_auth_username,
        **secrets,
    )


def by_uuid(session: Session, volume_uuid: str) -> ManagedVolume | None:
    return session.scalars(select(ManagedVolume).where(ManagedVolume.uuid == volume_uuid)).first()


def get(
    session: Session, volume_uuid: str, box: sensitive.SecretBox
) -> records.ManagedVolume | None:
    row = by_uuid(session, volume_uuid)
    return None if row is None else _record(session, row, box)


def for_node(
    session: Session, node_uuid: str, box: sensitive.SecretBox
) -> list[records.ManagedVolume]:
    """The volumes the node owns or is exported to (exports are few: filtered here)."""
    node = nodes.get_by_uuid(session, node_uuid)
    rows = session.scalars(
        select(ManagedVolume)
        .where(or_(ManagedVolume.node_id == node.id, ManagedVolume.state == ATTACHED))
        .order_by(ManagedVolume.id)
    )
    return [
        _record(session, row, box)
        for row in rows
        if row.node_id == node.id or node_uuid in row.initiators
    ]


def exported(session: Session, box: sensitive.SecretBox) -> list[records.ManagedVolume]:
    rows = session.scalars(
        select(ManagedVolume).where(ManagedVolume.state == ATTACHED).order_by(ManagedVolume.id)
    )
    return [_record(session, row, box) for row in rows]


def expected_exports(session: Session, group: str) -> dict[str, list[int]]:
    """Target IQN -> ids of the conductor group's active nodes, not in maintenance, the
    volume is exported to: what the target must serve now (no secret opened). The config
    drive targets Ironbound made for nodes it serves no volume to are in it too."""
    exports = session.execute(
        select(ManagedVolume.target_iqn, ManagedVolume.initiators).where(
            ManagedVolume.state == ATTACHED
        )
    ).all()
    uuids = {uuid for _, initiators in exports for uuid in initiators}
    active = dict(_active(session, group, Node.uuid.in_(uuids))) if uuids else {}
    found = {iqn: [active[u] for u in initiators if u in active] for iqn, initiators in exports}
    drive = Node.driver_internal_info[records.CONFIG_DRIVE_TARGET]["iqn"].as_string()
    for iqn, node_id in _active(session, group, drive.is_not(None), drive):
        found.setdefault(iqn, []).append(node_id)
    return {iqn: ids for iqn, ids in found.items() if ids}


def _active(
    session: Session, group: str, where: ColumnElement[bool], column: Any = Node.uuid
) -> list[tuple[Any, int]]:
    """(`column`, id) of the group's active nodes, not in maintenance, that match `where`."""
    rows = session.execute(
        select(column, Node.id).where(
            where,
            Node.conductor_group == group,
            Node.provision_state == states.ACTIVE,
            Node.maintenance.is_(False),
        )
    )
    return [(value, node_id) for value, node_id in rows]


def save(session: Session, volume: records.ManagedVolume, box: sensitive.SecretBox) -> None:
    """Insert the volume, or replace every field of its row."""
    owner = nodes.get_by_uuid(session, volume.node_uuid) if volume.node_uuid else None
    row = by_uuid(session, volume.uuid)
    if row is None:
        row = ManagedVolume(uuid=volume.uuid)
        session.add(row)
    secrets: dict[str, Any] = {
        k: getattr(volume, k).reveal() for k in _SECRET_FIELDS if getattr(volume, k) is not None
    }
    row.node_id = owner.id if owner is not None else None
    row.state = volume.state
    row.size_bytes = volume.size_bytes
    row.path = volume.path
    row.target_iqn = volume.target_iqn
    row.lun = volume.lun
    row.shareable = volume.shareable
    row.image = volume.image
    row.initiators = dict(volume.initiators)
    row.auth_username = volume.auth_username
    row.reverse_auth_username = volume.reverse_auth_username
    row.secrets = box.seal(secrets)
    session.flush()


def remove(session: Session, volume_uuid: str) -> None:
    session.execute(delete(ManagedVolume).where(ManagedVolume.uuid == volume_uuid))


def owned_by(session: Session, node_id: int) -> list[str]:
    """The UUIDs of the volumes a node owns (kept for it, or attached)."""
    return list(
        session.scalars(
            select(ManagedVolume.uuid)
            .where(ManagedVolume.node_id == node_id)
            .order_by(ManagedVolume.id)
        )
    )
