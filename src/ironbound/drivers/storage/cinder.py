"""Volumes from OpenStack Cinder.

This release validates the node's Cinder setup as Ironic does (and at deploy
time, which Ironic does not); attaching through Cinder's attachments API
comes in a later release. Until then a deploy that needs an attach fails
with a last_error that says so, never with a crash.
"""

from __future__ import annotations

from ironbound import errors
from ironbound.drivers import base
from ironbound.drivers.storage import checks

NAME = "cinder"


class CinderStorage(base.StorageInterface):
    def validate(self, task: base.Task) -> None:
        checks.check_connectors_and_targets(task, NAME)
        checks.check_boot_interface(task, NAME)

    def attach_volumes(self, task: base.Task) -> None:
        if not task.volume_targets:
            return
        raise errors.StorageError(
            reason="the cinder storage interface cannot attach volumes yet (Cinder "
            "integration is not part of this release). Use the external storage "
            "interface and give target_iqn, target_portal and target_lun in each "
            "volume target's properties."
        )

    def detach_volumes(self, task: base.Task) -> None:
        # Nothing can have been attached through Cinder, so nothing to detach:
        # an undeploy must not get stuck in "error" for want of a Cinder.
        return None

    def should_write_image(self, task: base.Task) -> bool:
        return not checks.boots_from_volume(task)
