"""Node lookups and the node lock.

The lock is Ironic's: a conductor owns a node while `reservation` holds its
name, taken with one compare-and-set UPDATE so two conductors can never both
win it.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from ironbound import errors
from ironbound.conductor import states
from ironbound.db.base import utcnow
from ironbound.db.models import Job, Node


def is_uuid_like(value: str) -> bool:
    """Whether `value` spells a UUID (any case, with or without hyphens)."""
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return len(value) in (32, 36)


def get(session: Session, ident: str) -> Node:
    """The node with UUID or name `ident`.

    :raises NodeNotFound: no such node.
    """
    column = Node.uuid if is_uuid_like(ident) else Node.name
    key = ident.lower() if column is Node.uuid else ident
    node = session.scalars(select(Node).where(column == key)).first()
    if node is None:
        raise errors.NodeNotFound(node=ident)
    return node


def get_by_uuid(session: Session, node_uuid: str) -> Node:
    """The node with this exact UUID.

    :raises NodeNotFound: no such node.
    """
    node = session.scalars(select(Node).where(Node.uuid == node_uuid.lower())).first()
    if node is None:
        raise errors.NodeNotFound(node=node_uuid)
    return node


def get_by_id(session: Session, node_id: int) -> Node:
    node = session.get(Node, node_id)
    if node is None:
        raise errors.NodeNotFound(node=node_id)
    return node


def lock_row(session: Session, node: Node) -> Node:
    """Hold the node's row until the transaction ends (PostgreSQL: FOR UPDATE).

    A conductor's reserve() then waits for this transaction instead of taking
    the node between our "is it free?" and our write. SQLite needs nothing:
    its writing transactions are serialised already (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name != "sqlite":
        session.refresh(node, with_for_update=True)
    return node


def busy_with(session: Session, node: Node) -> str | None:
    """Who is working on the node: the conductor holding it, "queued work", or None."""
    if node.reservation:
        return node.reservation
    pending = session.scalar(
        select(
            exists().where(
                Job.node_id == node.id,
                Job.status.in_(("queued", "running")),
                Job.kind.not_in(SHARED_JOB_KINDS),
            )
        )
    )
    return "queued work" if pending else None


def reserve(session: Session, node_id: int, conductor: str) -> bool:
    """Take the node's lock for `conductor`; False if someone else holds it."""
    result = session.execute(
        update(Node)
        .where(Node.id == node_id, Node.reservation.is_(None))
        .values(reservation=conductor)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def release(session: Session, node_id: int, conductor: str) -> None:
    """Give the node's lock back (only if `conductor` holds it)."""
    session.execute(
        update(Node)
        .where(Node.id == node_id, Node.reservation == conductor)
        .values(reservation=None)
        .execution_options(synchronize_session=False)
    )


def waiting_longer_than(session: Session, state: str, seconds: float) -> list[int]:
    """Ids of nodes that have sat in `state` for more than `seconds`."""
    cutoff = utcnow() - dt.timedelta(seconds=seconds)
    return list(
        session.scalars(
            select(Node.id).where(Node.provision_state == state, Node.provision_updated_at < cutoff)
        )
    )


def idle_with_real_power(session: Session) -> list[int]:
    """Nodes whose power a sync should read: unlocked, not in maintenance, real BMC, settled."""
    return list(
        session.scalars(
            select(Node.id).where(
                Node.reservation.is_(None),
                Node.maintenance.is_(False),
                Node.power_interface != "fake",
                Node.provision_state.in_(states.STABLE_STATES | {states.DEPLOYWAIT}),
            )
        )
    )


#: Jobs that only read a node (validate, boot device queries): they run
#: beside an exclusive job instead of waiting for it, like Ironic's shared locks.
SHARED_JOB_KINDS: tuple[str, ...] = ("validate", "get_boot_device", "supported_boot_devices")
