"""The storage interface for nodes that do not boot from or attach volumes."""

from __future__ import annotations

from ironbound.drivers import base


class NoopStorage(base.StorageInterface):
    """Does nothing; deploys always write an image (so never boot from a volume)."""

    def validate(self, task: base.Task) -> None:
        return None

    def attach_volumes(self, task: base.Task) -> None:
        return None

    def detach_volumes(self, task: base.Task) -> None:
        return None

    def should_write_image(self, task: base.Task) -> bool:
        return True
