"""Bounds on the connections each HTTP server holds and on the descriptors they take.

uvicorn, left to itself, keeps a connection that never sends a request for
ever, holds as many as clients open, and accepts until the process runs out
of file descriptors; then neither server accepts, the database cannot be
opened, and asyncio logs every failed accept with its traceback (hundreds of
MiB a minute). So each server gets its own protocol class that closes, as
soon as they are accepted, the connections past the server's bound and past
its per-address bound, and closes a connection that has no complete request
head within the idle timeout (after it opens and after each answer). The
process raises its descriptor limit to what the host allows and keeps the
servers' bounds within it, so a flood on one port cannot starve the other,
and logs refusals and exhaustion at most once per LOG_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass, replace

from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

LOG = logging.getLogger(__name__)

#: Seconds between two log lines about refused connections or exhausted descriptors.
LOG_EVERY = 10.0
#: Connections the kernel queues for each server before accepting (asyncio accepts
#: up to this many in one go, before any can be refused).
BACKLOG = 100
#: Descriptors kept for all but the servers' connections: the accept backlogs, the
#: database, images, subprocesses' pipes, the conductor's sockets.
RESERVED = 2 * BACKLOG + 200
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE})


@dataclass(frozen=True)
class Limits:
    """One server's bounds; per_address None: no per-address bound."""

    name: str
    max_connections: int
    idle_timeout: float
    per_address: int | None = None


class RateLimited:
    """Counts events; says so in one log line at most every LOG_EVERY seconds."""

    def __init__(self, message: str) -> None:
        self.message = message
        self._count = 0
        self._last = -LOG_EVERY

    def due(self) -> int:
        """Count one event; how many to report now, 0 while within LOG_EVERY of the last."""
        self._count += 1
        now = time.monotonic()
        if now - self._last < LOG_EVERY:
            return 0
        count, self._count, self._last = self._count, 0, now
        return count

    def note(self) -> None:
        if count := self.due():
            LOG.warning("%s (%d in the last %.0f s)", self.message, count, LOG_EVERY)


class ExhaustionFilter(logging.Filter):
    """Lets through one "too many open files" record in LOG_EVERY seconds, with a count."""

    def __init__(self) -> None:
        super().__init__()
        self._rate = RateLimited("")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, OSError) or exc.errno not in _EXHAUSTED:
            return True
        count = self._rate.due()
        if count:
            record.msg = f"{record.msg} ({count} in the last {LOG_EVERY:.0f} s)"
        return count > 0


def protocol(limits: Limits) -> type[H11Protocol]:
    """An h11 protocol class for one server, holding its bounds and per-address counts."""
    by_address: Counter[str] = Counter()
    refusals = RateLimited(f"{limits.name}: closed connections past its bounds")

    class Bounded(H11Protocol):
        _address = ""
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._address = self.client[0] if self.client else ""
            by_address[self._address] += 1
            if len(self.connections) > limits.max_connections or (
                limits.per_address is not None and by_address[self._address] > limits.per_address
            ):
                refusals.note()
                transport.abort()
                return
            self._await_request()

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            by_address[self._address] -= 1
            if by_address[self._address] <= 0:
                del by_address[self._address]
            if self._deadline is not None:
                self._deadline.cancel()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._await_request()

        def _await_request(self) -> None:
            """Close this connection unless a request head is complete within the timeout."""
            if self._deadline is not None:
                self._deadline.cancel()
            if not self.transport.is_closing():
                self._deadline = self.loop.call_later(
                    limits.idle_timeout, self._close_if_idle, self.cycle
                )

        def _close_if_idle(self, cycle: RequestResponseCycle | None) -> None:
            if self.cycle is cycle:  # no request began since
                self.timeout_keep_alive_handler()

    return Bounded


def raise_descriptor_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard one; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def within(descriptors: int, servers: list[Limits]) -> list[Limits]:
    """`servers` with their max_connections scaled down to share what `descriptors` leaves
    after RESERVED, when their sum does not fit (each keeps at least one)."""
    wanted = sum(server.max_connections for server in servers)
    room = descriptors - RESERVED
    if wanted <= room:
        return servers
    LOG.warning(
        "%d file descriptors allow %d connections, not the %d configured: lowering "
        "max_connections (raise the service's LimitNOFILE)",
        descriptors,
        max(room, 0),
        wanted,
    )
    return [
        replace(server, max_connections=max(1, room * server.max_connections // wanted))
        for server in servers
    ]
