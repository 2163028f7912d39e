"""Volumes managed outside Ironbound: the operator gives the target properties.

Ironic validates almost nothing here and lets a missing IQN or a string LUN
crash the deploy. Ironbound checks, before any deploy step, that every iSCSI
target carries what iPXE needs to log in.
"""

from __future__ import annotations

from ironbound.drivers import base
from ironbound.drivers.storage import checks, san_lun
from ironbound.records import ImageDestination

NAME = "external"


class ExternalStorage(base.StorageInterface):
    """Attach and detach are no-ops: the SAN is already set up by the operator."""

    capabilities = frozenset({base.WRITES_IMAGES})

    def validate(self, task: base.Task) -> None:
        checks.check_connectors_and_targets(task, NAME)
        checks.check_boot_interface(task, NAME)
        for target in task.volume_targets:
            if target.volume_type != checks.ISCSI:
                continue
            props = target.properties
            missing = [
                key
                for key, alternative in (
                    ("target_iqn", "target_iqns"),
                    ("target_portal", "target_portals"),
                    ("target_lun", "target_luns"),
                )
                if key not in props and alternative not in props
            ]
            if props.get("auth_method", "").upper() == "CHAP":
                missing += [k for k in ("auth_username", "auth_password") if k not in props]
            if missing:
                raise checks.invalid(
                    task,
                    NAME,
                    f"Volume target {target.uuid} lacks the properties {missing}; with the "
                    "external storage interface they must be given when the target is "
                    "created.",
                )

    def attach_volumes(self, task: base.Task) -> None:
        task.record("external storage: volumes are attached by the operator; nothing to do")

    def detach_volumes(self, task: base.Task) -> None:
        return None

    def image_destination(self, task: base.Task) -> ImageDestination:
        return san_lun.boot_lun(task, NAME)
