"""Boot tokens: one per deployed node; only their hash is searchable."""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ironbound.db.models import BootToken, Node, Port


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def store(session: Session, node_id: int, token: str, sealed: str) -> None:
    """Make `token` the node's only boot token."""
    session.execute(delete(BootToken).where(BootToken.node_id == node_id))
    session.add(BootToken(node_id=node_id, token_hash=token_hash(token), sealed_token=sealed))


def revoke(session: Session, node_id: int) -> None:
    session.execute(delete(BootToken).where(BootToken.node_id == node_id))


def node_for_token(session: Session, token: str) -> Node | None:
    """The node that owns `token`, or None."""
    return session.scalars(
        select(Node)
        .join(BootToken, BootToken.node_id == Node.id)
        .where(BootToken.token_hash == token_hash(token))
    ).first()


def sealed_token_for_mac(session: Session, mac: str) -> tuple[Node, str] | None:
    """The node with a port of this MAC and its sealed boot token, if it has one."""
    row = session.execute(
        select(Node, BootToken.sealed_token)
        .join(Port, Port.node_id == Node.id)
        .join(BootToken, BootToken.node_id == Node.id)
        .where(Port.address == mac.lower())
    ).first()
    return (row[0], row[1]) if row else None
