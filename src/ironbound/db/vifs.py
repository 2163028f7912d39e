"""VIF attachments, stored as Ironic stores them: in a port's or port group's internal_info.

A VIF (a Neutron port, for Nova) takes one free port-like object of the
node: a port group that has member ports, or a port outside any group;
groups first, then PXE-enabled ports, then the rest, each in creation order.
With the `noop` network interface nothing else happens: the record is what
Nova reads back and what tear-down removes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ironbound import errors
from ironbound.db.models import Port, Portgroup

PORT_KEY = "tenant_vif_port_id"
PORTGROUP_KEY = "tenant_vif_portgroup_id"

PortLike = Port | Portgroup


def _key(obj: PortLike) -> str:
    return PORT_KEY if isinstance(obj, Port) else PORTGROUP_KEY


def _vif_of(obj: PortLike) -> str | None:
    value = obj.internal_info.get(_key(obj))
    return value if isinstance(value, str) else None


def _port_likes(session: Session, node_id: int) -> list[PortLike]:
    """The node's port groups, then its ports, each in creation order."""
    groups = session.scalars(
        select(Portgroup).where(Portgroup.node_id == node_id).order_by(Portgroup.id)
    ).all()
    ports = session.scalars(select(Port).where(Port.node_id == node_id).order_by(Port.id)).all()
    return [*groups, *ports]


def attached(session: Session, node_id: int) -> list[str]:
    """The VIF ids attached to the node, groups' first."""
    return [vif for obj in _port_likes(session, node_id) if (vif := _vif_of(obj)) is not None]


def _free(objs: Iterable[PortLike]) -> list[PortLike]:
    """Objects that can take a VIF, most preferred first."""
    objs = list(objs)
    grouped = {p.portgroup_id for p in objs if isinstance(p, Port)}
    groups = [g for g in objs if isinstance(g, Portgroup) and g.id in grouped]
    ports = [p for p in objs if isinstance(p, Port) and p.portgroup_id is None]
    ports.sort(key=lambda p: not p.pxe_enabled)  # stable: creation order within each kind
    candidates: list[PortLike] = [*groups, *ports]
    return [o for o in candidates if _vif_of(o) is None]


def attach(session: Session, node_id: int, vif_id: str) -> PortLike:
    """Record `vif_id` on a free port-like object of the node.

    :raises VifAlreadyAttached: the VIF is attached to this node already.
    :raises NoFreePhysicalPorts: every port and group of the node has a VIF.
    """
    objs = _port_likes(session, node_id)
    for obj in objs:
        if _vif_of(obj) == vif_id:
            kind = "port" if isinstance(obj, Port) else "portgroup"
            raise errors.VifAlreadyAttached(vif=vif_id, object_type=kind, object_uuid=obj.uuid)
    free = _free(objs)
    if not free:
        raise errors.NoFreePhysicalPorts(vif=vif_id)
    chosen = free[0]
    chosen.internal_info = {**chosen.internal_info, _key(chosen): vif_id}
    return chosen


def detach(session: Session, node_id: int, node_uuid: str, vif_id: str) -> None:
    """:raises VifNotAttached: no port or group of the node carries `vif_id`."""
    for obj in _port_likes(session, node_id):
        if _vif_of(obj) == vif_id:
            _clear(obj)
            return
    raise errors.VifNotAttached(vif=vif_id, node=node_uuid)


def detach_all(session: Session, node_id: int) -> list[str]:
    """Remove every VIF of the node (tear-down); returns those removed."""
    removed = []
    for obj in _port_likes(session, node_id):
        vif = _vif_of(obj)
        if vif is not None:
            _clear(obj)
            removed.append(vif)
    return removed


def _clear(obj: PortLike) -> None:
    obj.internal_info = {k: v for k, v in obj.internal_info.items() if k != _key(obj)}
