"""Volumes managed outside Ironbound: the operator gives the target properties.

Ironic validates almost nothing here and lets a missing IQN or a string LUN
crash the deploy. Ironbound checks, before any deploy step, that every iSCSI
target carries what iPXE needs to log in.
"""

from __future__ import annotations

from oslo_config import cfg

from ironbound.drivers import base
from ironbound.drivers.storage import checks, san_lun
from ironbound.drivers.storage.config_drive_target import ConfigDriveTarget
from ironbound.records import ImageDestination

NAME = "external"


class ExternalStorage(base.StorageInterface):
    """The SAN is already set up by the operator: attach and detach touch only the node's
    config drive, on a target of Ironbound's own (`config_drive_target`)."""

    capabilities = frozenset({base.WRITES_IMAGES, base.DELIVERS_CONFIG_DRIVE, base.RECONCILES})

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self.config_drive = ConfigDriveTarget(conf)

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
        self.config_drive.detach(task)

    def attach_config_drive(self, task: base.Task, iso: bytes | None) -> None:
        self.config_drive.attach(task, iso)

    def live_exports(self) -> set[str]:
        """What Ironbound's tgtd serves, where the node's config drive target lives."""
        return self.config_drive.backend.targets()

    def reconcile(self, task: base.Task) -> None:
        """Only the config drive's target is Ironbound's to restore after a tgtd restart."""
        self.config_drive.restore(task)

    def image_destination(self, task: base.Task) -> ImageDestination:
        return san_lun.boot_lun(task, NAME)
