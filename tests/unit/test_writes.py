"""api/writes: when a write is tried again, and when it gives up."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ironbound import errors
from ironbound.api import problems, writes


class _Signals:
    def __init__(self) -> None:
        self.waits = 0

    def wait_for_finish(self, timeout: float) -> None:
        self.waits += 1


def _services(attempts: int = 3, interval: float = 1.0) -> Any:
    conductor = SimpleNamespace(
        node_locked_retry_attempts=attempts, node_locked_retry_interval=interval
    )
    return SimpleNamespace(conf=SimpleNamespace(conductor=conductor), signals=_Signals())


def _busy() -> None:
    raise writes._Busy("node-1", "conductor-a")


def test_a_write_that_succeeds_is_tried_once() -> None:
    services = _services()
    tried = 0
    for attempt in writes.attempts(services):
        with attempt:
            tried += 1
    assert (tried, services.signals.waits) == (1, 0)


def test_a_busy_node_is_waited_for_then_written() -> None:
    services = _services()
    tried = 0
    for attempt in writes.attempts(services):
        with attempt:
            tried += 1
            if tried < 3:
                _busy()
    assert (tried, services.signals.waits) == (3, 2)


def test_a_node_busy_past_the_wait_is_locked() -> None:
    services = _services(attempts=0)
    with pytest.raises(errors.NodeLocked, match=r"node-1.*conductor-a"):
        for attempt in writes.attempts(services):
            with attempt:
                _busy()


def test_a_record_that_keeps_changing_fails_after_three_attempts() -> None:
    services = _services()
    tried = 0
    with pytest.raises(problems.RecordChangedDuringUpdate, match=r"port changed .* 3 times"):
        for attempt in writes.attempts(services, "port"):
            with attempt:
                tried += 1
                writes.unchanged({"a": 1}, {"a": 2})
    assert (tried, services.signals.waits) == (3, 0)


def test_other_errors_end_the_write_at_once() -> None:
    services = _services()
    tried = 0
    with pytest.raises(errors.NodeNotFound):
        for attempt in writes.attempts(services):
            with attempt:
                tried += 1
                raise errors.NodeNotFound(node="x")
    assert tried == 1
