"""Progress records that wait for their flow's next write.

A flow records the start and the end of every step. Written in a
transaction each, those records cost more than all the real work of a quick
flow (a fake or already-done step), so the job's claim (`conductor/claim.py`)
keeps them and stores them in the transaction of its next write. A step that
runs longer than `DELAY` would then show nothing while it runs: the
conductor's progress thread writes the records of every claim whose oldest
record is older than that (`Backlog.write_overdue`), so long work shows as it
happens.
"""

from __future__ import annotations

import threading
from typing import Protocol

#: Seconds a progress record may wait for its flow's next write.
DELAY = 0.25


class Keeper(Protocol):
    def write_progress(self, older_than: float, *, wait: bool) -> None: ...


class Backlog:
    """The claims of one conductor that keep records not written yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keepers: set[Keeper] = set()

    def add(self, keeper: Keeper) -> None:
        with self._lock:
            self._keepers.add(keeper)

    def discard(self, keeper: Keeper) -> None:
        with self._lock:
            self._keepers.discard(keeper)

    def write_overdue(self) -> None:
        """Write the records of every claim that has kept one longer than DELAY.

        A claim busy writing is skipped: its records go with that write.
        """
        with self._lock:
            keepers = list(self._keepers)
        for keeper in keepers:
            keeper.write_progress(DELAY, wait=False)
