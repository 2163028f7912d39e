"""A node's progress record: one row per step of its flows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from ironbound.db import limits
from ironbound.db.base import utcnow
from ironbound.db.models import NodeEvent


@dataclass(frozen=True)
class Progress:
    """One progress record of a flow, stamped when it happened (it may be written later)."""

    message: str
    event_type: str = "progress"
    severity: str = "info"
    #: The deploy step (Ironic 1.44) the node shows from this record on, if any.
    deploy_step: Mapping[str, Any] | None = None
    at: dt.datetime = field(default_factory=utcnow)


# Built once, run as plain Core: a flow writes events at every step.
_INSERT = insert(cast(Table, NodeEvent.__table__))


def add(session: Session, node_id: int, records: list[Progress], conductor: str | None) -> None:
    """Store `records` as the node's events, in one statement."""
    session.connection().execute(
        _INSERT,
        [
            {
                "node_id": node_id,
                "created_at": record.at,
                "event": limits.bounded_text(record.message),
                "event_type": record.event_type,
                "severity": record.severity,
                "conductor": conductor,
            }
            for record in records
        ],
    )
