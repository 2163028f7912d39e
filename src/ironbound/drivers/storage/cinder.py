"""Volumes from OpenStack Cinder, attached through Cinder's attachments API.

At deploy every volume target's volume gets an attachment for the node's
connector; what Cinder answers (portal, IQN, LUN, CHAP) is written into
that target's properties, on this node's row only, with the secrets sealed
like every other. Ironic differs in four ways this module fixes: it uses the
legacy attach actions, its multi-attach guard is never called, it writes one
node's connection data onto every target that shares the volume, and it
never checks Cinder's view against its own.

What is recorded, per node, in ``driver_internal_info.volume_attachments``:
target uuid -> the volume, the attachment id, and the property keys the
attach wrote (removed again at detach, so no stale CHAP secret stays).

A volume that Cinder already shows attached for the node's instance (Nova
attaches a server's volumes itself, then creates the targets from the
connection data Cinder gave it) is used as it is: Ironbound makes no second
attachment (Cinder would refuse one on a volume that is not multiattach),
records it as adopted, and leaves it to its owner at tear-down. Ironic skips
such a volume the same way.

Power actions leave attachments alone while the node is active (Ironic
detaches at power-off and re-attaches at power-on): the node boots from its
volume whenever it powers on, by Ironbound or at its BMC, and a re-attach
could hand it other credentials than the ones its firmware already holds.
Attachments end with undeploy, a failed deploy, or the node's deletion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from ironbound import errors, records
from ironbound.drivers import base
from ironbound.drivers.storage import checks, config_drive_target, san_lun
from ironbound.drivers.storage.cinder_client import Attachment, CinderClient, CinderError, Volume
from ironbound.drivers.storage.config_drive_target import ConfigDriveTarget

NAME = "cinder"
RECORD = records.VOLUME_ATTACHMENTS
#: Where a drift Cinder showed is remembered, so it is reported once.
DRIFT = "storage_drift"
#: Cinder's name for the only connection type iPXE can boot.
ISCSI_CONNECTION = "iscsi"
#: Connection data that describes Cinder's side only; not written to targets.
_NOT_TARGET_DATA = frozenset({"attachment_id", "driver_volume_type", "qos_specs", "cacheable"})


def connector(task: base.Task) -> dict[str, Any]:
    """The node's os-brick style connector, from its volume connector records.

    ``multipath`` is true only when the node really has several paths (two
    or more ip connectors, or two or more wwpns), not merely two records.
    """
    by_type: dict[str, list[str]] = {}
    for record in task.volume_connectors:
        by_type.setdefault(record.type, []).append(record.connector_id)
    if not by_type.get("iqn") and not by_type.get("wwpn"):
        raise checks.invalid(
            task,
            NAME,
            "Cinder needs the node's initiator: add a volume connector of type iqn (iSCSI) "
            "or wwpn and wwnn (Fibre Channel).",
        )
    data: dict[str, Any] = {"host": task.node.uuid, "platform": "x86_64", "os_type": "linux2"}
    if by_type.get("iqn"):
        data["initiator"] = by_type["iqn"][0]
    if by_type.get("ip"):
        data["ip"] = by_type["ip"][0]
    if by_type.get("wwpn"):
        data["wwpns"] = by_type["wwpn"]
        data["wwnns"] = by_type.get("wwnn", [])
    data["multipath"] = len(by_type.get("ip", [])) > 1 or len(by_type.get("wwpn", [])) > 1
    return data


def _owners(task: base.Task) -> set[str]:
    """The ids Cinder may list as this node's attachment holder."""
    return {task.node.uuid} | ({task.node.instance_uuid} if task.node.instance_uuid else set())


def _others(volume: Volume, task: base.Task) -> list[str]:
    """Who else Cinder shows the volume attached for: neither this node nor its instance."""
    mine = {attachment_id for attachment_id, _ in _recorded(task).values()}
    return sorted(
        server or "an unknown holder"
        for attachment_id, server in volume.attachments
        if attachment_id not in mine and server not in _owners(task)
    )


def refusal(volume: Volume, task: base.Task) -> str | None:
    """Why the node may not attach `volume`, or None when it may."""
    others = _others(volume, task)
    if volume.status == "available":
        return None
    if volume.status == "in-use":
        if not others or volume.multiattach:
            return None
        return (
            f"volume {volume.id} is in-use by {', '.join(others)} and is not multiattach; a "
            "second node may attach it only when Cinder reports it multiattach (a volume type "
            "with multiattach='<is> True')"
        )
    return (
        f"volume {volume.id} is '{volume.status}' in Cinder; it must be 'available' (or "
        "in-use and multiattach)"
    )


def _entries(task: base.Task) -> dict[str, Mapping[str, Any]]:
    """target uuid -> the recorded entry of each attachment this interface holds."""
    found = task.node.driver_internal_info.get(RECORD)
    if not isinstance(found, Mapping):
        return {}
    return {
        str(target): entry
        for target, entry in found.items()
        if isinstance(entry, Mapping) and "attachment_id" in entry and "volume_id" in entry
    }


def _recorded(task: base.Task) -> dict[str, tuple[str, str]]:
    """target uuid -> (attachment id, volume id) of what this interface attached or adopted."""
    return {
        target: (str(entry["attachment_id"]), str(entry["volume_id"]))
        for target, entry in _entries(task).items()
    }


def connection_data(attachment: Attachment) -> dict[str, Any]:
    """The target properties an attachment gives, checked to be bootable over iSCSI.

    :raises StorageError: the volume is not reached over iSCSI, or Cinder gave
        no portal, IQN or LUN.
    """
    info = attachment.connection_info
    nested = info.get("data")
    data: Mapping[str, Any] = nested if isinstance(nested, Mapping) else info
    kind = info.get("driver_volume_type") or data.get("driver_volume_type")
    if kind != ISCSI_CONNECTION:
        raise errors.StorageError(
            f"volume {attachment.volume_id} is exported over '{kind}', and Ironbound "
            "boots nodes from iSCSI volumes only"
        )
    found = {k: v for k, v in data.items() if k not in _NOT_TARGET_DATA and v is not None}
    if not ({"target_iqn", "target_iqns"} & found.keys()) or not (
        {"target_portal", "target_portals"} & found.keys()
    ):
        raise errors.StorageError(
            f"Cinder's connection data for volume {attachment.volume_id} has no target "
            "portal or IQN"
        )
    return found


class CinderStorage(base.StorageInterface):
    """Cinder's volumes; the node's config drive is a target of Ironbound's own
    (`config_drive_target`), which no Cinder call ever sees."""

    capabilities = frozenset(
        {
            base.ATTACH_FILLS_TARGETS,
            base.RECONCILES,
            base.WRITES_IMAGES,
            base.DELIVERS_CONFIG_DRIVE,
        }
    )

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self.cinder = CinderClient(conf)
        self.config_drive = ConfigDriveTarget(conf)

    def validate(self, task: base.Task) -> None:
        """What can be known before attach: connectors fit, each volume exists and is free."""
        checks.check_connectors_and_targets(task, NAME)
        checks.check_boot_interface(task, NAME)
        if task.volume_targets:
            connector(task)
        for target in config_drive_target.volume_targets(task):
            try:
                problem = self._refusal(task, target.volume_id)
            except CinderError as exc:
                raise checks.invalid(
                    task, NAME, f"Volume target {target.uuid}: {exc.message}"
                ) from exc
            if problem is not None:
                raise checks.invalid(task, NAME, f"Volume target {target.uuid}: {problem}.")

    def _refusal(self, task: base.Task, volume_id: str) -> str | None:
        """Why the node may not attach the volume as Cinder shows it now, or None.

        :raises CinderError: Cinder could not be asked, or has no such volume.
        """
        return refusal(self.cinder.get_volume(volume_id), task)

    def attach_volumes(self, task: base.Task) -> None:
        """Attach every target's volume; on any failure undo the ones this call made."""
        made: list[str] = []
        try:
            for target in config_drive_target.volume_targets(task):
                if self._attach(task, target):
                    made.append(target.uuid)
            if task.node.driver_internal_info.get(DRIFT) is not None:
                task.set_internal_info(**{DRIFT: None})
        except errors.IronboundError:
            for target_uuid in reversed(made):
                self._detach(task, target_uuid, quietly=True)
            raise

    def _attach(self, task: base.Task, target: records.TargetInfo) -> bool:
        """Attach one target's volume; False when an attachment recorded earlier still holds."""
        recorded = _recorded(task).get(target.uuid)
        if recorded is not None:
            still = self.cinder.get_attachment(*recorded)
            if still is not None and still.status == "attached":
                task.record(f"volume {target.volume_id} is still attached ({still.id})")
                return False
            self._forget(task, target.uuid)
        # Asked again, not taken from validate: another node may have attached it since.
        volume = self.cinder.get_volume(target.volume_id)
        problem = refusal(volume, task)
        if problem is not None:
            raise errors.StorageError(problem)
        held = self._instance_attachment(task, volume)
        if held is not None:
            self._adopt(task, target, held)
            return False
        attachment = self.cinder.attach(target.volume_id, connector(task), task.node.uuid)
        try:
            data = connection_data(attachment)
        except errors.StorageError:
            self.cinder.delete_attachment(attachment.id, target.volume_id, quietly=True)
            raise
        self._remember(task, target, attachment, data, adopted=False)
        portal = data.get("target_portal") or data.get("target_portals")
        task.record(
            f"volume {target.volume_id} attached in Cinder (attachment {attachment.id}), "
            f"at {portal}"
        )
        return True

    def _instance_attachment(self, task: base.Task, volume: Volume) -> Attachment | None:
        """The attachment Cinder holds for the node's instance (Nova's), when it is complete."""
        instance = task.node.instance_uuid
        if instance is None:
            return None
        for attachment_id, server in volume.attachments:
            if server == instance:
                found = self.cinder.get_attachment(attachment_id, volume.id)
                if found is not None and found.status == "attached":
                    return found
        return None

    def _adopt(self, task: base.Task, target: records.TargetInfo, held: Attachment) -> None:
        """Use the instance's own attachment; fill in only what the target lacks."""
        data = connection_data(held)
        current = next(t for t in task.volume_targets if t.uuid == target.uuid)
        missing = {k: v for k, v in data.items() if k not in current.properties}
        self._remember(task, target, held, missing, adopted=True)
        task.record(
            f"volume {target.volume_id} is already attached in Cinder for instance "
            f"{held.instance} (attachment {held.id}); Ironbound boots from it and leaves the "
            "attachment to its owner"
        )

    def _remember(
        self,
        task: base.Task,
        target: records.TargetInfo,
        attachment: Attachment,
        data: Mapping[str, Any],
        *,
        adopted: bool,
    ) -> None:
        """Record the attachment and the property keys `data` writes; write them to the target."""
        entries = dict(task.node.driver_internal_info.get(RECORD) or {})
        entry: dict[str, Any] = {
            "volume_id": target.volume_id,
            "attachment_id": attachment.id,
            "keys": sorted(data),
        }
        if adopted:
            entry["adopted"] = True
        entries[target.uuid] = entry
        task.set_internal_info(**{RECORD: entries})
        if data:
            current = next(t for t in task.volume_targets if t.uuid == target.uuid)
            task.set_target_properties(target.uuid, {**current.properties, **data})

    def attach_config_drive(self, task: base.Task, iso: bytes | None) -> None:
        self.config_drive.attach(task, iso)

    def detach_volumes(self, task: base.Task) -> None:
        """End the config drive, then delete every attachment this interface made; keep the
        record of any that failed."""
        self.config_drive.detach(task)
        failures = []
        for target_uuid in list(_recorded(task)):
            try:
                self._detach(task, target_uuid, quietly=False)
            except errors.IronboundError as exc:
                failures.append(exc.message)
        if failures:
            raise errors.StorageError(
                "; ".join(failures) + ". The attachments stay recorded on the node; "
                "undeploy again once Cinder answers"
            )

    def _detach(self, task: base.Task, target_uuid: str, *, quietly: bool) -> None:
        entry = _entries(task)[target_uuid]
        attachment_id, volume_id = str(entry["attachment_id"]), str(entry["volume_id"])
        if entry.get("adopted"):
            self._forget(task, target_uuid)
            task.record(
                f"volume {volume_id} left attached in Cinder for its owner (attachment "
                f"{attachment_id})"
            )
            return
        self.cinder.delete_attachment(attachment_id, volume_id, quietly=quietly)
        self._forget(task, target_uuid)
        task.record(f"volume {volume_id} detached in Cinder (attachment {attachment_id})")

    def _forget(self, task: base.Task, target_uuid: str) -> None:
        """Drop the record and the connection data an attach wrote to the target."""
        entries = dict(task.node.driver_internal_info.get(RECORD) or {})
        entry = entries.pop(target_uuid, {})
        task.set_internal_info(**{RECORD: entries or None})
        target = next((t for t in task.volume_targets if t.uuid == target_uuid), None)
        if target is not None:
            written = set(entry.get("keys", ()))
            kept = {k: v for k, v in target.properties.items() if k not in written}
            task.set_target_properties(target_uuid, kept)

    def image_destination(self, task: base.Task) -> records.ImageDestination:
        return san_lun.boot_lun(task, NAME)

    def image_written(self, task: base.Task, image: str | None) -> None:
        """Before a write (None), refuse a volume Cinder shows attached for another holder:
        two nodes may boot a multiattach volume, but none writes its image over the other's."""
        target = checks.boot_target(task)
        if image is not None or target is None:
            return
        others = _others(self.cinder.get_volume(target.volume_id), task)
        if others:
            raise errors.StorageError(
                reason=f"volume {target.volume_id} is attached in Cinder for {', '.join(others)}"
                f": node {task.node.uuid} does not write its image over it; unset "
                "instance_info/image_source to boot the shared volume as it is"
            )

    def live_exports(self) -> set[str]:
        """What Ironbound's tgtd serves, where the nodes' config drive targets live (the
        export watch asks only while some active node has one)."""
        return self.config_drive.backend.targets()

    def reconcile(self, task: base.Task) -> None:
        """Restore the config drive's export if tgtd lost it; show on the node where
        Cinder's attachments differ from the recorded ones."""
        self.config_drive.restore(task)
        problems = []
        for target_uuid, (attachment_id, volume_id) in _recorded(task).items():
            try:
                found = self.cinder.get_attachment(attachment_id, volume_id)
            except CinderError as exc:
                task.record(f"storage check skipped: {exc.message}", severity="warning")
                return
            if found is None:
                problems.append(
                    f"Cinder no longer has attachment {attachment_id} of volume {volume_id} "
                    f"(volume target {target_uuid}): it was deleted outside Ironbound"
                )
            elif found.status != "attached":
                problems.append(
                    f"attachment {attachment_id} of volume {volume_id} is '{found.status}' in "
                    "Cinder, not 'attached'"
                )
        self._show_drift(task, problems)

    def _show_drift(self, task: base.Task, problems: list[str]) -> None:
        before = task.node.driver_internal_info.get(DRIFT)
        if problems:
            message = (
                "Storage drift: "
                + "; ".join(problems)
                + ". The node may fail to boot from it; the next deploy attaches it again."
            )
            if message != before:
                task.record(message, event_type="storage", severity="error")
                task.set_internal_info(**{DRIFT: message})
                task.set_last_error(message)
        elif before is not None:
            task.record("storage drift resolved: Cinder again shows every attachment")
            task.set_internal_info(**{DRIFT: None})
            if task.node.last_error == before:
                task.set_last_error(None)
