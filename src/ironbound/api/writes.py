"""A handler's write, tried again while its node is busy or its record changed.

A handler writes top to bottom inside `for attempt in writes.attempts(...)`,
as tenacity's loops read::

    for attempt in writes.attempts(services):
        with attempt, services.db.write() as session:
            node = writes.hold(session, lookups.node(session, ident, minor))
            ...  # check, change
    return ...

Busy: the `baremetal` CLI retries a 409 five times, two seconds apart, so
answering 409 for a lock held a few hundred milliseconds would cost the
operator ten seconds. `hold` (or `free`) ends an attempt whose node a conductor holds
(or has work queued for); the next starts once a job finishes, until
[conductor]node_locked_retry_attempts x node_locked_retry_interval seconds
have passed, and then the request fails with 409 NodeLocked.

Changed: SQLite has one writer at a time, so a PATCH is read and worked out
before its write transaction, which only checks (`unchanged`) that the
record is still what was read and stores the result. A record that changed
meanwhile ends the attempt; after `ATTEMPTS` of those the request fails with
409 (a PATCH of 10,000 operations once held the write lock for half a minute).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import TypeVar

from sqlalchemy.orm import Session

from ironbound import errors
from ironbound.api import problems
from ironbound.api.services import ApiServices
from ironbound.db import nodes
from ironbound.db.models import Node

N = TypeVar("N", bound=nodes.Holdable)

#: How many times a PATCH is worked out again on a record that keeps changing.
ATTEMPTS = 3
_POLL = 0.05


class _Busy(Exception):
    """The node is someone else's: this attempt rolls back and waits."""

    def __init__(self, node: str, holder: str) -> None:
        super().__init__(node, holder)
        self.node, self.holder = node, holder


class _Changed(Exception):
    """The record changed between the read and the write: this attempt rolls back."""


class Attempt:
    """One try of a write; `with attempt:` ends it, keeping why it must be tried again."""

    def __init__(self) -> None:
        self.busy: _Busy | None = None
        self.changed = False

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if isinstance(exc, _Busy):
            self.busy = exc
            return True
        if isinstance(exc, _Changed):
            self.changed = True
            return True
        return False


def attempts(services: ApiServices, what: str = "record") -> Iterator[Attempt]:
    """Attempts until one ends without a busy node or a changed record (`what` names it).

    :raises NodeLocked: the node stayed busy for the whole wait.
    :raises RecordChangedDuringUpdate: the record changed on every attempt.
    """
    conf = services.conf.conductor
    deadline = time.monotonic() + conf.node_locked_retry_attempts * conf.node_locked_retry_interval
    changes = 0
    while True:
        attempt = Attempt()
        yield attempt
        if attempt.changed:
            changes += 1
            if changes >= ATTEMPTS:
                raise problems.RecordChangedDuringUpdate(what=what, attempts=ATTEMPTS)
        elif attempt.busy is not None:
            if time.monotonic() >= deadline:
                raise errors.NodeLocked(node=attempt.busy.node, host=attempt.busy.holder)
            services.signals.wait_for_finish(_POLL)
        else:
            return


def hold(session: Session, node: Node) -> Node:
    """`free` for a node read as an ORM row: its row held until the transaction ends.

    A conductor's reserve then waits for this transaction instead of taking
    the node between our "is it free?" and our write (`nodes.lock_row`).
    """
    return free(session, nodes.lock_row(session, node))


def free(session: Session, node: N) -> N:
    """`node`, whose row the transaction holds, unless a conductor works on it.

    :raises _Busy: (ends the attempt) a conductor holds the node or has work queued for it.
    """
    holder = nodes.busy_with(session, node)
    if holder is not None:
        raise _Busy(node.uuid, holder)
    return node


def unchanged(seen: object, now: object) -> None:
    """Go on only if the record is still what the PATCH was worked out from.

    :raises _Changed: (ends the attempt) it is not.
    """
    if now != seen:
        raise _Changed()
