"""The config drive of a node whose volumes someone else serves (`external`, `cinder`).

Ironbound cannot add a LUN to a target it does not own, so the drive gets a target
of its own on Ironbound's tgtd (the `[managed]` one): one read-only LUN, the
node's initiator alone in its ACL, CHAP with credentials of its own. It becomes a
volume target of the node (volume_id `config-drive`), so the boot script hooks it
after the node's volumes and the iBFT describes it; the booted system's initramfs
logs in to it as to the boot volume, and cloud-init finds it by its label.

Linux reads two targets from the iBFT: the boot volume and this one. A node with
data volumes therefore takes no config drive this way (the deploy says so).
What the attach made is recorded in driver_internal_info, so detach and restore
(tgtd forgets everything when it restarts) know what to end or re-create.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from ironbound import errors, records
from ironbound.drivers import base
from ironbound.drivers.storage import checks
from ironbound.drivers.storage.managed import interface as managed
from ironbound.drivers.storage.managed import volumes
from ironbound.drivers.storage.managed.backend import Backend, Export
from ironbound.drivers.storage.managed.backend import load as load_backend
from ironbound.sensitive import Secret

#: The volume_id of the node's target for its config drive.
VOLUME_ID = "config-drive"
#: driver_internal_info key: the target the attach made (target uuid, IQN, account).
RECORD = records.CONFIG_DRIVE_TARGET
LUN = 1


class ConfigDriveTarget:
    """Attach, detach and restore a node's config drive target on Ironbound's tgtd."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self.backend: Backend = load_backend(conf)

    def attach(self, task: base.Task, iso: bytes | None) -> None:
        """Export `iso` for the node alone and hook it in its boot script (None: end the
        one it has). A rebuild's new drive replaces the old, credentials and all."""
        self.detach(task)
        if iso is None:
            return
        portal = managed.target_portal(task, str(task.node.interfaces.get("storage")))
        data = [t for t in task.volume_targets if t.boot_index != 0]
        if data:
            raise errors.StorageError(
                f"the node has data volumes ({', '.join(t.volume_id for t in data)}): the "
                "firmware's iBFT describes two targets to the booted system, its boot volume "
                "and its config drive, so a config drive needs a node without data volumes"
            )
        node_iqn = managed.initiator(task)
        target_iqn, account = self._names(task)
        password = Secret(managed.chap_password())
        path = str(volumes.write_config_drive(self.conf, task.node.uuid, iso))
        self.backend.export(
            Export(target_iqn, LUN, path, (node_iqn,), account, password, read_only=True)
        )
        target_uuid = task.add_volume_target(checks.ISCSI, _next_index(task), VOLUME_ID)
        task.set_internal_info(
            **{RECORD: {"target": target_uuid, "iqn": target_iqn, "account": account}}
        )
        task.set_target_properties(
            target_uuid,
            {
                "target_iqn": target_iqn,
                "target_portal": portal,
                "target_lun": LUN,
                "auth_method": "CHAP",
                "auth_username": account,
                "auth_password": password,
            },
        )
        task.record(
            f"config drive ({len(iso)} bytes) exported read-only as {target_iqn} to {node_iqn} "
            "(CHAP), hooked after the node's volumes"
        )

    def _names(self, task: base.Task) -> tuple[str, str]:
        """The drive's target IQN and CHAP account, named after the node."""
        return target_name(self.conf, task.node.uuid), account_name(task.node.uuid)

    def detach(self, task: base.Task) -> None:
        """End the drive's export, its target row and its file, if the node has one."""
        made = _made(task)
        if made is None:
            self._end_unrecorded(task)
            return
        self.backend.unexport(str(made["iqn"]), [str(made["account"])])
        if any(t.uuid == made["target"] for t in task.volume_targets):
            task.delete_volume_targets([str(made["target"])])
        volumes.remove(str(volumes.config_drive_path(self.conf, task.node.uuid)))
        task.set_internal_info(**{RECORD: None})
        task.record("config drive removed")

    def _end_unrecorded(self, task: base.Task) -> None:
        """The drive's file is written before its export and its target row: with no
        record beside it, an attach died after it (its conductor killed), and its export
        and row may be there."""
        path = volumes.config_drive_path(self.conf, task.node.uuid)
        if not path.exists():
            return
        target_iqn, account = self._names(task)
        self.backend.unexport(target_iqn, [account])
        rows = [t.uuid for t in task.volume_targets if t.volume_id == VOLUME_ID]
        if rows:
            task.delete_volume_targets(rows)
        volumes.remove(str(path))
        task.record("ended the unrecorded export of the config drive")

    def restore(self, task: base.Task) -> None:
        """Give a restarted tgtd the drive back, from its file and its target's row."""
        made = _made(task)
        if made is None or self.backend.exists(str(made["iqn"])):
            return
        target = next((t for t in task.volume_targets if t.uuid == made["target"]), None)
        path = volumes.config_drive_path(self.conf, task.node.uuid)
        if target is None or not path.exists():
            return
        password = target.properties["auth_password"]
        self.backend.export(
            Export(
                str(made["iqn"]), LUN, str(path), (managed.initiator(task),),
                str(made["account"]), Secret(records.secret_value(password)), read_only=True,
            )
        )  # fmt: skip
        task.record(
            "the iSCSI target had lost the node's config drive (restarted?): its export is "
            "restored",
            event_type="storage",
            severity="warning",
        )


def target_name(conf: cfg.ConfigOpts, node_uuid: str) -> str:
    """The drive's IQN. Short: BIOS iPXE has 768 bytes for the iBFT, 512 of them taken by
    its fixed structures; the rest holds the initiator's name and, for each target, its IQN
    and CHAP name and secret, and a Cinder volume's alone take about a hundred."""
    return f"{conf.managed.target_prefix}cd-{uuidlib.UUID(node_uuid).hex[:16]}"


def account_name(node_uuid: str) -> str:
    """The drive's CHAP account (tgtd's accounts are global: one per node)."""
    return "cd" + uuidlib.UUID(node_uuid).hex[:10]


def volume_targets(task: base.Task) -> list[records.TargetInfo]:
    """The node's volume targets but its config drive's: the volumes its storage serves."""
    return [t for t in task.volume_targets if t.volume_id != VOLUME_ID]


def _made(task: base.Task) -> Mapping[str, Any] | None:
    found = task.node.driver_internal_info.get(RECORD)
    return found if isinstance(found, Mapping) else None


def _next_index(task: base.Task) -> int:
    return max((t.boot_index for t in task.volume_targets), default=0) + 1
