"""Boot tokens: one per deployed node, only their hash searchable, pinned at first use.

See docs/security.md ("The boot server") for the model these rows keep.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ironbound.db.base import utcnow
from ironbound.db.models import BootToken, Node, Port


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def store(session: Session, node_id: int, token: str, sealed: str, window: float | None) -> None:
    """Make `token` the node's only boot token (unpinned: a new deploy, a new host), its
    boot window open for `window` seconds, or closed (None) until a power-on opens it."""
    session.execute(delete(BootToken).where(BootToken.node_id == node_id))
    until = None if window is None else utcnow() + dt.timedelta(seconds=window)
    session.add(
        BootToken(
            node_id=node_id, token_hash=token_hash(token), sealed_token=sealed, window_until=until
        )
    )


def revoke(session: Session, node_id: int) -> None:
    session.execute(delete(BootToken).where(BootToken.node_id == node_id))


def open_window(session: Session, node_id: int, seconds: float) -> None:
    """Let the next host to ask, within `seconds`, have the node's script: Ironbound is
    powering it on now (and its boot cycles are counted afresh)."""
    session.execute(
        update(BootToken)
        .where(BootToken.node_id == node_id)
        .values(
            pinned_address=None,
            awaiting_report=False,
            handed_over=False,
            contested=False,
            settle_at=None,
            window_until=utcnow() + dt.timedelta(seconds=seconds),
            cycles=0,
            cycles_since=None,
        )
    )


def window_open(row: BootToken) -> bool:
    """Whether a boot window Ironbound opened is still open for the token."""
    return row.window_until is not None and utcnow() < row.window_until


def settle(session: Session, node_id: int, seconds: float) -> None:
    """The deploy's boot handed over to its volume: it settles in `seconds` unless its
    boot cycle ends first (a failed sanboot, the operating system's confirmation)."""
    session.execute(
        update(BootToken)
        .where(BootToken.node_id == node_id, BootToken.handed_over.is_(True))
        .values(settle_at=utcnow() + dt.timedelta(seconds=seconds))
    )


def settle_due(session: Session, provision_state: str, group: str) -> list[int]:
    """Ids of the conductor group's nodes in `provision_state` whose boot is due to settle."""
    return list(
        session.scalars(
            select(BootToken.node_id)
            .join(Node, Node.id == BootToken.node_id)
            .where(
                BootToken.settle_at <= utcnow(),
                Node.provision_state == provision_state,
                Node.conductor_group == group,
            )
        )
    )


def take_settled(session: Session, node_ids: Collection[int]) -> list[int]:
    """Of `node_ids`, those whose settle time is still set, clearing it: each boot
    settles once, whichever conductor takes it first."""
    taken = session.execute(
        update(BootToken)
        .where(BootToken.node_id.in_(node_ids), BootToken.settle_at.is_not(None))
        .values(settle_at=None)
        .returning(BootToken.node_id)
    )
    return list(taken.scalars())


def by_token(session: Session, token: str) -> tuple[Node, BootToken] | None:
    """The node that owns `token`, with the token's row."""
    row = session.execute(
        select(Node, BootToken)
        .join(BootToken, BootToken.node_id == Node.id)
        .where(BootToken.token_hash == token_hash(token))
    ).first()
    return (row[0], row[1]) if row else None


def by_mac(session: Session, mac: str) -> tuple[Node, BootToken] | None:
    """The node with a port of this MAC, with its boot token's row, if it has one."""
    row = session.execute(
        select(Node, BootToken)
        .join(Port, Port.node_id == Node.id)
        .join(BootToken, BootToken.node_id == Node.id)
        .where(Port.address == mac.lower())
    ).first()
    return (row[0], row[1]) if row else None


def pxe_macs(session: Session, node_id: int) -> set[str]:
    """The MACs of the node's pxe_enabled ports: those DHCP boots (and leases to) for it."""
    return set(
        session.scalars(
            select(Port.address).where(Port.node_id == node_id, Port.pxe_enabled.is_(True))
        )
    )


def get(session: Session, node_id: int) -> BootToken | None:
    """The node's token row, for changing it in a write transaction."""
    return session.get(BootToken, node_id)


def published(
    session: Session, provision_states: Collection[str]
) -> dict[str, tuple[str, list[str]]]:
    """Nodes in `provision_states` that hold a boot token: uuid → (sealed token, pxe MACs)."""
    rows = session.execute(
        select(Node.uuid, BootToken.sealed_token, Port.address)
        .join(BootToken, BootToken.node_id == Node.id)
        .join(Port, (Port.node_id == Node.id) & Port.pxe_enabled.is_(True))
        .where(Node.provision_state.in_(provision_states))
    ).all()
    found: dict[str, tuple[str, list[str]]] = {}
    for uuid, sealed, mac in rows:
        found.setdefault(uuid, (sealed, []))[1].append(mac)
    return found
