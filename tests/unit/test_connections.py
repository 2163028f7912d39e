"""Descriptor exhaustion is logged at a bounded rate; the servers' bounds fit the descriptors."""

from __future__ import annotations

import errno
import logging

from ironbound import connections


def _record(exc: BaseException | None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("asyncio", logging.ERROR, "", 0, "accept failed", (), info)


def test_a_storm_of_too_many_open_files_is_one_line_with_its_count() -> None:
    gate = connections.ExhaustionFilter()
    records = [_record(OSError(errno.EMFILE, "Too many open files")) for _ in range(1000)]
    passed = [record for record in records if gate.filter(record)]
    assert len(passed) == 1
    assert gate.filter(_record(OSError(errno.ECONNRESET, "reset")))
    assert gate.filter(_record(None))


def test_bounds_past_the_descriptors_are_lowered_to_fit() -> None:
    api = connections.Limits("API", 1000, 5.0)
    boot = connections.Limits("boot server", 3000, 5.0, per_address=16)
    fitted = connections.within(connections.RESERVED + 400, [api, boot])
    assert [limits.max_connections for limits in fitted] == [100, 300]
    assert fitted[1].per_address == 16
    assert connections.within(100_000, [api, boot]) == [api, boot]
