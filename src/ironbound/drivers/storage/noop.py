"""The storage interface for nodes that do not boot from or attach volumes."""

from __future__ import annotations

from ironbound.drivers import base


class NoopStorage(base.StorageInterface):
    """Does nothing: the node has no volumes."""

    def validate(self, task: base.Task) -> None:
        return None

    def attach_volumes(self, task: base.Task) -> None:
        return None

    def detach_volumes(self, task: base.Task) -> None:
        return None
