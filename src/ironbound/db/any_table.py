"""What any table's rows share: pages in Ironic's order, lookups by UUID, uniqueness
checks, and the API's inserts, stores and deletions of ORM rows.

Ironic's paging sorts by a column, then by id, and resumes after a marker.
Only db/ sends a unit of work's changes (tests/unit/test_architecture.py): a
flush is where every stored document's bounds are checked (`limits`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, and_, or_, select
from sqlalchemy.orm import Session

from ironbound.db.base import Base

M = TypeVar("M", bound=Base)


def _after_marker(
    column: Any, ident: Any, value: Any, marker_id: int, descending: bool
) -> ColumnElement[bool]:
    """Rows that come after the marker row in (column, id) order.

    Ascending puts NULLs first; descending puts them last, so both directions
    visit every row exactly once.
    """
    if not descending:
        if value is None:
            return or_(column.is_not(None), and_(column.is_(None), ident > marker_id))
        return or_(column > value, and_(column == value, ident > marker_id))
    if value is None:
        return and_(column.is_(None), ident < marker_id)
    return or_(column < value, and_(column == value, ident < marker_id), column.is_(None))


def page(
    session: Session,
    model: type[M],
    *,
    match: Iterable[tuple[str, Any]] = (),
    where: Sequence[Any] = (),
    sort_key: str = "id",
    sort_dir: str = "asc",
    limit: int | None = None,
    marker: M | None = None,
    columns: Collection[str] | None = None,
) -> list[Row[Any]]:
    """One page of `model`'s rows, in a stable (sort_key, id) order.

    The rows have each (column, value) of `match` and meet each clause of
    `where`. `marker` is the last row of the previous page. The result is plain rows
    (one attribute per column), not ORM objects: a list page is read once
    and rendered, and ORM objects for a thousand nodes cost several times
    the memory and time of the rows. `columns` names the columns the rows
    carry (default: all): a page that shows a few fields reads only those.
    """
    column = getattr(model, sort_key)
    ident = model.id  # type: ignore[attr-defined]
    descending = sort_dir == "desc"
    table = model.__table__.columns
    query = select(*(c for c in table if columns is None or c.name in columns)).where(
        *(getattr(model, name) == value for name, value in match), *where
    )
    if sort_key == "id":
        if marker is not None:
            query = query.where(ident < marker.id if descending else ident > marker.id)  # type: ignore[attr-defined]
        query = query.order_by(ident.desc() if descending else ident.asc())
    else:
        if marker is not None:
            query = query.where(
                _after_marker(column, ident, getattr(marker, sort_key), marker.id, descending)  # type: ignore[attr-defined]
            )
        if descending:
            query = query.order_by(column.desc().nulls_last(), ident.desc())
        else:
            query = query.order_by(column.asc().nulls_first(), ident.asc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query))


def by_uuid(session: Session, model: type[M], uuid: str) -> M | None:
    """The row of `model` with this UUID, or None."""
    column = model.uuid  # type: ignore[attr-defined]
    return session.scalars(select(model).where(column == uuid)).first()


def clashes(
    session: Session, model: type[M], own_id: int | None, values: Mapping[str, Any]
) -> bool:
    """Whether a row of `model` other than `own_id` already has these column values."""
    ident = model.id  # type: ignore[attr-defined]
    found = session.scalars(
        select(ident).where(*(getattr(model, k) == v for k, v in values.items()))
    ).first()
    return found is not None and found != own_id


def add(session: Session, row: M) -> M:
    """Insert `row`, now: its id and defaults are there to render."""
    session.add(row)
    session.flush()
    return row


def store(session: Session) -> None:
    """Send the changes made to the session's rows, now (bounds checked, stamps set)."""
    session.flush()


def remove(session: Session, row: Base) -> None:
    """Delete `row` (and what its relations cascade to) when the unit of work commits."""
    session.delete(row)
