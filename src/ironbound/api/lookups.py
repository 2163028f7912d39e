"""How handlers find the node a path names: by UUID, or by name from 1.5 on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ironbound import errors
from ironbound.api import microversions as mv
from ironbound.db import nodes
from ironbound.db.models import Node


def check_ident(ident: str, minor: int) -> None:
    """:raises InvalidUUID: `ident` is a name, before 1.5 named nodes."""
    if minor < mv.NODE_NAMES and not nodes.is_uuid_like(ident):
        raise errors.InvalidUUID(field="node", value=ident)


def node(session: Session, ident: str, minor: int) -> Node:
    """A node by UUID, or by name from 1.5 on."""
    check_ident(ident, minor)
    return nodes.get(session, ident)


def node_for_change(session: Session, ident: str, minor: int) -> nodes.Changing:
    """`node` for a state change: the columns it decides on, the row held."""
    check_ident(ident, minor)
    return nodes.get_for_change(session, ident)
