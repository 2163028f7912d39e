"""Waiting briefly for a busy node instead of answering 409 at once.

The `baremetal` CLI retries a 409 five times, two seconds apart; answering
409 for a lock held a few hundred milliseconds would cost the operator ten
seconds. So a request that must change a node waits (up to
[conductor]node_locked_retry_attempts x node_locked_retry_interval seconds)
for the conductor to let go, and only then gives up with 409 NodeLocked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from ironbound import errors
from ironbound.api.services import ApiServices
from ironbound.db import nodes
from ironbound.db.models import Node

T = TypeVar("T")
N = TypeVar("N", bound=nodes.Holdable)
_POLL = 0.05


def with_free_node(
    services: ApiServices, lookup: Callable[[Session], Node], change: Callable[[Session, Node], T]
) -> T:
    """Run `change` in a write transaction once the node found by `lookup` is free.

    :raises NodeLocked: the node stayed busy for the whole wait.
    """
    return with_free(services, lambda session: nodes.lock_row(session, lookup(session)), change)


def with_free(
    services: ApiServices, lookup: Callable[[Session], N], change: Callable[[Session, N], T]
) -> T:
    """`with_free_node` for a `lookup` that locks the row itself (`nodes.get_for_change`)."""
    conf = services.conf.conductor
    deadline = time.monotonic() + conf.node_locked_retry_attempts * conf.node_locked_retry_interval
    while True:
        with services.db.write() as session:
            node = lookup(session)
            holder = nodes.busy_with(session, node)
            if holder is None:
                return change(session, node)
            uuid = node.uuid
        if time.monotonic() >= deadline:
            raise errors.NodeLocked(node=uuid, host=holder)
        services.signals.wait_for_finish(_POLL)
