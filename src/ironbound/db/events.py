"""A node's progress record: one row per step of its flows."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ironbound.db.models import NodeEvent


def add(
    session: Session,
    node_id: int,
    event: str,
    *,
    event_type: str = "progress",
    severity: str = "info",
    conductor: str | None = None,
) -> None:
    session.execute(
        insert(NodeEvent).values(
            node_id=node_id,
            event=event,
            event_type=event_type,
            severity=severity,
            conductor=conductor,
        )
    )
