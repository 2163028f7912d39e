"""Port group lookups the API needs beyond those of any table (`any_table`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ironbound.db.models import Port, Portgroup


def uuids_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Portgroup.id, Portgroup.uuid).where(Portgroup.id.in_(wanted)))
    return {row.id: row.uuid for row in rows}


def has_ports(session: Session, portgroup_id: int) -> bool:
    found = session.scalars(select(Port.id).where(Port.portgroup_id == portgroup_id)).first()
    return found is not None


def by_name(session: Session, name: str) -> Portgroup | None:
    return session.scalars(select(Portgroup).where(Portgroup.name == name)).first()


def member_physnets(
    session: Session, portgroup_id: int, exclude_port: int | None
) -> set[str | None]:
    """The physical networks of the group's member ports, except `exclude_port`."""
    query = select(Port.physical_network).where(Port.portgroup_id == portgroup_id)
    if exclude_port is not None:
        query = query.where(Port.id != exclude_port)
    return set(session.scalars(query))
