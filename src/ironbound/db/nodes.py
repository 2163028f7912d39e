"""Node lookups, the node lock, and the one writer of a node's fields.

The lock is Ironic's: a conductor owns a node while `reservation` holds its
name, taken with one compare-and-set UPDATE so two conductors can never both
win it. Every change of a node's columns by the conductor or a state change
request is `write_fields`: one Core UPDATE of a node read as a few columns,
with the stamps a move of the provision state brings (the API's PATCH edits
the ORM node it renders, through `apply_fields`, with the same stamps).
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar, cast

from sqlalchemy import JSON, Row, Table, bindparam, exists, select, update
from sqlalchemy.orm import Session

from ironbound import errors, states
from ironbound.db import any_table, events, limits
from ironbound.db.base import utcnow
from ironbound.db.models import Job, Node
from ironbound.jobspec import PENDING, SHARED_KINDS

_NODES = cast(Table, Node.__table__)

T = TypeVar("T")


def is_uuid_like(value: str) -> bool:
    """Whether `value` spells a UUID (any case, with or without hyphens)."""
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return len(value) in (32, 36)


# The lookups by UUID or name, built once: building a statement (and its
# cache key) costs more than SQLite takes to run it.
_IDENTS = ("uuid", "name")
_NODE_BY = {name: select(Node).where(getattr(Node, name) == bindparam("key")) for name in _IDENTS}
_ROW_BY = {
    name: select(*Node.__table__.columns).where(Node.__table__.c[name] == bindparam("key"))
    for name in _IDENTS
}


def _ident(ident: str) -> tuple[str, dict[str, str]]:
    """The column that `ident` names a node by (UUID, else name), and its bound value."""
    if is_uuid_like(ident):
        return "uuid", {"key": ident.lower()}
    return "name", {"key": ident}


def _found(found: T | None, ident: str) -> T:
    """:raises NodeNotFound: nothing was `found` for `ident`."""
    if found is None:
        raise errors.NodeNotFound(node=ident)
    return found


def get(session: Session, ident: str) -> Node:
    """The node with UUID or name `ident`.

    :raises NodeNotFound: no such node.
    """
    column, key = _ident(ident)
    return _found(session.scalars(_NODE_BY[column], key).first(), ident)


def get_row(session: Session, ident: str) -> Row[Any]:
    """`get` as a plain row of the nodes table, for a read that only renders the node
    (an ORM object costs it several times more).

    :raises NodeNotFound: no such node.
    """
    column, key = _ident(ident)
    return _found(session.execute(_ROW_BY[column], key).first(), ident)


class Holdable(Protocol):
    """What deciding whether a node is free needs: an ORM node or a `Changing` row."""

    @property
    def id(self) -> int: ...
    @property
    def uuid(self) -> str: ...
    @property
    def reservation(self) -> str | None: ...


class Changing(NamedTuple):
    """The columns a state change request reads and decides on (`get_for_change`)."""

    id: int
    uuid: str
    reservation: str | None
    provision_state: str
    protected: bool
    maintenance: bool
    driver: str
    conductor_group: str


_CHANGING = tuple(_NODES.c[name] for name in Changing._fields)
_CHANGING_BY = {
    name: select(*_CHANGING).where(_NODES.c[name] == bindparam("key")) for name in _IDENTS
}
_CHANGING_FOR_UPDATE = {name: query.with_for_update() for name, query in _CHANGING_BY.items()}


def get_for_change(session: Session, ident: str) -> Changing:
    """`get` as the few columns a state change needs, locked as `lock_row` locks.

    The change is then written with `write_fields`: one Core UPDATE, where an
    ORM node (its ~50 columns loaded, its changes flushed) cost several times more.

    :raises NodeNotFound: no such node.
    """
    column, key = _ident(ident)
    by = _CHANGING_BY if session.get_bind().dialect.name == "sqlite" else _CHANGING_FOR_UPDATE
    row = session.connection().execute(by[column], key).first()
    return Changing(*_found(row, ident))


_INSTANCE_INFO = select(Node.instance_info, Node.instance_secrets).where(
    Node.id == bindparam("node_id")
)


def instance_info(session: Session, node: Changing) -> tuple[dict[str, Any], str | None]:
    """The instance_info (masked) and sealed instance secrets of a node read by
    `get_for_change`, for a state change that writes them too."""
    row = session.connection().execute(_INSTANCE_INFO, {"node_id": node.id}).one()
    return row.instance_info, row.instance_secrets


def get_by_uuid(session: Session, node_uuid: str) -> Node:
    """The node with this exact UUID.

    :raises NodeNotFound: no such node.
    """
    node = session.scalars(select(Node).where(Node.uuid == node_uuid.lower())).first()
    if node is None:
        raise errors.NodeNotFound(node=node_uuid)
    return node


def find_by_id(session: Session, node_id: int) -> Node | None:
    return session.get(Node, node_id)


def get_by_id(session: Session, node_id: int) -> Node:
    """The node with this row id.

    :raises NodeNotFound: no such node.
    """
    node = session.get(Node, node_id)
    if node is None:
        raise errors.NodeNotFound(node=node_id)
    return node


def uuids_by_id(session: Session, node_ids: Iterable[int]) -> dict[int, str]:
    """The UUIDs of these nodes, by row id (one query for a whole page of sub-resources)."""
    query = select(Node.id, Node.uuid).where(Node.id.in_(set(node_ids)))
    return {node_id: node_uuid for node_id, node_uuid in session.execute(query)}


def owner_of_instance(session: Session, instance_uuid: str) -> str | None:
    """The UUID of the node that `instance_uuid` is associated with, or None."""
    return session.scalars(select(Node.uuid).where(Node.instance_uuid == instance_uuid)).first()


def page(
    session: Session,
    *,
    match: Iterable[tuple[str, Any]],
    associated: bool | None,
    sort_key: str,
    sort_dir: str,
    limit: int,
    marker: Node | None,
    columns: Collection[str] | None = None,
) -> list[Row[Any]]:
    """A page of nodes, as `any_table.page` reads it (with only `columns`, when given).

    `associated` True keeps the nodes with an instance, False those without.
    """
    where = []
    if associated is not None:
        column = Node.instance_uuid
        where.append(column.is_not(None) if associated else column.is_(None))
    return any_table.page(
        session,
        Node,
        match=match,
        where=where,
        sort_key=sort_key,
        sort_dir=sort_dir,
        limit=limit,
        marker=marker,
        columns=columns,
    )


def lock_row(session: Session, node: Node) -> Node:
    """Hold the node's row until the transaction ends (PostgreSQL: FOR UPDATE).

    A conductor's reserve() then waits for this transaction instead of taking
    the node between our "is it free?" and our write. SQLite needs nothing:
    its writing transactions are serialised already (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name != "sqlite":
        session.refresh(node, with_for_update=True)
    return node


def busy_with(session: Session, node: Holdable) -> str | None:
    """Who is working on the node: the conductor holding it, "queued work", or None."""
    if node.reservation:
        return node.reservation
    pending = session.connection().execute(_QUEUED_WORK, {"node_id": node.id}).scalar()
    return "queued work" if pending else None


_QUEUED_WORK = select(  # built once: every change of a node asks
    exists().where(
        Job.node_id == bindparam("node_id"),
        Job.status.in_(PENDING),
        Job.kind.not_in(SHARED_KINDS),
    )
)


def reserve(session: Session, node_id: int, conductor: str) -> bool:
    """Take the node's lock for `conductor`; False if someone else holds it."""
    result = session.connection().execute(_RESERVE, {"node_id": node_id, "holder": conductor})
    return result.rowcount == 1


def release(session: Session, node_id: int, conductor: str) -> None:
    """Give the node's lock back (only if `conductor` holds it)."""
    session.connection().execute(_RELEASE, {"node_id": node_id, "holder": conductor})


# Plain Core on the session's connection: the ORM's bulk-update path cost more than the
# statement (every job reserves and releases its node).
_RESERVE = (
    update(_NODES)
    .where(_NODES.c.id == bindparam("node_id"), _NODES.c.reservation.is_(None))
    .values(reservation=bindparam("holder"))
)
_RELEASE = (
    update(_NODES)
    .where(
        _NODES.c.id == bindparam("node_id"),
        _NODES.c.reservation == bindparam("holder"),
    )
    .values(reservation=None)
)


def waiting_longer_than(session: Session, state: str, seconds: float, group: str) -> list[int]:
    """Ids of the conductor group's nodes that have sat in `state` for more than `seconds`."""
    cutoff = utcnow() - dt.timedelta(seconds=seconds)
    return list(
        session.scalars(
            select(Node.id).where(
                Node.conductor_group == group,
                Node.provision_state == state,
                Node.provision_updated_at < cutoff,
            )
        )
    )


def idle_with_real_power(session: Session, group: str) -> list[int]:
    """The conductor group's nodes whose power a sync should read: unlocked, not in
    maintenance, real BMC, settled."""
    return list(
        session.scalars(
            select(Node.id).where(
                Node.conductor_group == group,
                Node.reservation.is_(None),
                Node.maintenance.is_(False),
                Node.power_interface != "fake",
                Node.provision_state.in_(states.STABLE_STATES | {states.DEPLOYWAIT}),
            )
        )
    )


def idle_active_with_storage(
    session: Session, storage_interfaces: Sequence[str], group: str
) -> list[int]:
    """The conductor group's active nodes, unlocked and not in maintenance, that use one
    of `storage_interfaces`."""
    return list(
        session.scalars(
            select(Node.id).where(
                Node.conductor_group == group,
                Node.reservation.is_(None),
                Node.maintenance.is_(False),
                Node.provision_state == states.ACTIVE,
                Node.storage_interface.in_(storage_interfaces),
            )
        )
    )


class Held(NamedTuple):
    """The node as a flow's fenced write sees it (`check_held`)."""

    id: int
    uuid: str
    provision_state: str
    driver_internal_info: dict[str, Any]


# Statements of every flow's every write, built once (see db/snapshots.py).
_HELD = select(Node.uuid, Node.reservation, Node.provision_state, Node.driver_internal_info).where(
    Node.id == bindparam("node_id")
)
_HELD_FOR_UPDATE = _HELD.with_for_update()
_UPDATE_NODE = update(_NODES).where(_NODES.c.id == bindparam("node_id_"))


def check_held(session: Session, node_id: int, conductor: str | None) -> Held:
    """The fence for a flow's every write: the node, if `conductor` still holds its lock.

    Reads only the columns that writes of the node's own fields depend on;
    the row stays locked until the transaction ends (PostgreSQL: FOR UPDATE).
    With `conductor` None (a job that takes no lock), nobody's lock is checked.

    :raises NodeNotFound: the node is gone.
    :raises LockLost: another conductor took the node over, or a stop abandoned it.
    """
    query = _HELD if session.get_bind().dialect.name == "sqlite" else _HELD_FOR_UPDATE
    row = session.connection().execute(query, {"node_id": node_id}).first()
    if row is None:
        raise errors.NodeNotFound(node=node_id)
    if conductor is not None and row.reservation != conductor:
        raise errors.LockLost(node=row.uuid, host=conductor)
    return Held(node_id, row.uuid, row.provision_state, row.driver_internal_info)


_HELD_BY = select(Node.id, Node.uuid, Node.provision_state, Node.driver_internal_info).where(
    Node.reservation == bindparam("holder")
)


def held_by(session: Session, conductor: str) -> list[Held]:
    """Nodes whose lock `conductor` holds, as `write_fields` takes them."""
    return [Held(*row) for row in session.execute(_HELD_BY, {"holder": conductor})]


def apply_fields(row: Node, fields: Mapping[str, Any]) -> None:
    """`write_fields` for an ORM node being edited (the API's PATCH, which renders it):
    the same stamps, set on the object and flushed with it."""
    for key, value in _with_stamps(row.provision_state, bool(row.deploy_step), fields).items():
        setattr(row, key, value)


def _with_stamps(current_state: str, has_step: bool, fields: Mapping[str, Any]) -> dict[str, Any]:
    """`fields` plus what a move of the provision state changes with it (see apply_fields),
    last_error bounded (limits.MAX_TEXT): every write of a node's fields passes here."""
    values = dict(fields)
    if isinstance(values.get("last_error"), str):
        values["last_error"] = limits.bounded_text(values["last_error"])
    new_state = fields.get("provision_state", current_state)
    if new_state != current_state:
        values["provision_updated_at"] = utcnow()
        if new_state not in states.DEPLOY_STEP_STATES and has_step:
            values.setdefault("deploy_step", {})
    return values


class Written(Protocol):
    """What writing a node's fields needs of the node as read: a `Held` or `Changing` row."""

    @property
    def id(self) -> int: ...
    @property
    def uuid(self) -> str: ...
    @property
    def provision_state(self) -> str: ...


def write_fields(
    session: Session,
    node: Written,
    fields: Mapping[str, Any],
    shown: Mapping[str, Any] | None = None,
) -> None:
    """Set node columns in one UPDATE of `node` (as `check_held`, `held_by` or
    `get_for_change` read it), stamping provision_updated_at when the provision state
    moves; a node that leaves the deploy states no longer shows a deploy step (as Ironic).

    `shown`: what `record_progress` returned, written in the same UPDATE;
    `fields` win over it (a landing that leaves the deploy states clears the
    step the progress showed). The caller holds the node (its lock, or the row
    lock of `get_for_change`), so no row is loaded; JSON documents are bounded
    as the ORM's writes are.
    """
    values = {**(shown or {}), **_with_stamps(node.provision_state, True, fields)}
    _check_documents(node.uuid, values)
    session.connection().execute(_UPDATE_NODE, {"node_id_": node.id, **values})


def _check_documents(node_uuid: str, values: Mapping[str, Any]) -> None:
    """Bound the JSON documents a Core UPDATE writes, as the ORM's writes are bounded."""
    for key, value in values.items():
        if isinstance(_NODES.c[key].type, JSON):
            limits.check_document(f"{key} of Node {node_uuid}", value)


def record_progress(
    session: Session, held: Held, records: list[events.Progress], conductor: str
) -> tuple[Held, dict[str, Any]]:
    """Store `records` as events; returns `held` as it is to be, and the fields that
    show the last record (for `write_fields`, with the flow's own, in one UPDATE).

    The last record shows as driver_internal_info.progress (with its time) and
    the last deploy step among them becomes the node's deploy_step. Every
    client sees progress that way (`baremetal node show`), since Ironic's
    node history API lies beyond the microversions served here.
    """
    events.add(session, held.id, records, conductor)
    last = records[-1]
    info = {
        **held.driver_internal_info,
        "progress": f"{last.at.isoformat(timespec='seconds')} {last.message}",
    }
    shown: dict[str, Any] = {"driver_internal_info": info}
    steps = [record.deploy_step for record in records if record.deploy_step is not None]
    if steps:
        shown["deploy_step"] = dict(steps[-1])
    return held._replace(driver_internal_info=info), shown
