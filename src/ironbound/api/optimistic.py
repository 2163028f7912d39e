"""A PATCH in two steps, so that long patches never hold the write lock.

SQLite has one writer at a time: a patch applied and validated inside the
write transaction made every other writer wait for it (a PATCH of 10,000
operations held the lock for half a minute). So the record is read and the
patch worked out first, outside any write transaction; the write
transaction only checks that the record is still what was read and stores
the result. If the record changed meanwhile, the work is done again on the
new record, a few times, and then the request fails with 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from ironbound.api import locking, problems
from ironbound.api.services import ApiServices
from ironbound.db.models import Node

S = TypeVar("S")
P = TypeVar("P")
T = TypeVar("T")

#: How many times the work is redone on a record that keeps changing.
ATTEMPTS = 3


class _Changed(Exception):
    """The record changed between the read and the write (rolls the write back)."""


def update(
    services: ApiServices,
    owner: Callable[[Session], Node],
    current: Callable[[Session, Node], S],
    work: Callable[[S], P],
    write: Callable[[Session, Node, P], T],
    what: str,
) -> T:
    """Store `write(work(current(...)))`, with `current` unchanged at the write.

    `owner` finds the node the change waits for (as `locking.with_free_node`);
    `current` reads the record (comparable with ==; it may refuse the change
    for the node's state); `work` is the expensive part, run outside any
    transaction; `write` runs in the write transaction.

    :raises RecordChangedDuringUpdate: the record changed on every attempt.
    """
    for _ in range(ATTEMPTS):
        with services.db.read() as session:
            seen = current(session, owner(session))
        result = work(seen)

        def change(session: Session, node: Node, seen: S = seen, result: P = result) -> T:
            if current(session, node) != seen:
                raise _Changed()
            return write(session, node, result)

        try:
            return locking.with_free_node(services, owner, change)
        except _Changed:
            continue
    raise problems.RecordChangedDuringUpdate(what=what, attempts=ATTEMPTS)
