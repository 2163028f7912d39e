"""A node's traits (API 1.37): the `node_traits` rows, read per node or per page of nodes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from ironbound.db.models import NodeTrait

# Built once: every node show from 1.37 on reads the traits.
_NAMES = (
    select(NodeTrait.trait)
    .where(NodeTrait.node_id == bindparam("node_id"))
    .order_by(NodeTrait.trait)
)


def names(session: Session, node_id: int) -> list[str]:
    """The node's traits, sorted."""
    return list(session.scalars(_NAMES, {"node_id": node_id}))


def by_node(session: Session, node_ids: Iterable[int]) -> dict[int, list[str]]:
    """The traits of each of these nodes (sorted), in one query for a whole list page."""
    found: dict[int, list[str]] = {node_id: [] for node_id in node_ids}
    if not found:
        return found
    query = (
        select(NodeTrait.node_id, NodeTrait.trait)
        .where(NodeTrait.node_id.in_(found))
        .order_by(NodeTrait.node_id, NodeTrait.trait)
    )
    for node_id, trait in session.execute(query):
        found[node_id].append(trait)
    return found


def replace(session: Session, node_id: int, traits: Iterable[str]) -> None:
    """Make exactly `traits` the node's traits (duplicates collapse)."""
    session.execute(delete(NodeTrait).where(NodeTrait.node_id == node_id))
    session.add_all(NodeTrait(node_id=node_id, trait=trait) for trait in sorted(set(traits)))
    session.flush()


def add(session: Session, node_id: int, trait: str) -> None:
    """Give the node `trait`, which it must not have yet (see `names`)."""
    session.add(NodeTrait(node_id=node_id, trait=trait))
    session.flush()


def remove(session: Session, node_id: int, trait: str) -> bool:
    """Take `trait` from the node; False when it did not have it."""
    result = session.execute(
        delete(NodeTrait).where(NodeTrait.node_id == node_id, NodeTrait.trait == trait)
    )
    return bool(getattr(result, "rowcount", 0))
