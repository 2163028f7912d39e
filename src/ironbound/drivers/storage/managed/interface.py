"""The `managed` storage interface: Ironbound creates, exports, keeps or deletes the boot volume.

At attach the node gets its volume (the one kept for it, the one its boot
target names, or a new sparse file of instance_info/root_gb GiB), exported on
Ironbound's own iSCSI target for the node's initiator IQN only, with fresh
CHAP credentials; its boot_index 0 target is created if missing and filled.
At detach the export ends and the volume is kept for the node's next deploy
or deleted (instance_info/keep_boot_volume; without it a volume kept before stays
kept and a new one follows [managed]keep_boot_volume).
No node's image is written onto a volume another node holds (owns, or is exported
to): the deploy fails before the write, naming the volume and the node.
A failed deploy (abort, a failed boot, the callback timeout, a failed step) deletes
only a fresh volume (one its own attach created) that the node does not keep. Every
other volume stays kept for the node: a failure never deletes a volume the node asked
to keep, nor, whatever keep_boot_volume says, one a node has run on (a failed
rebuild is no undeploy).

What is recorded, per node, in ``driver_internal_info.volume_attachments``:
target uuid -> the volume, whether this attach created the volume and the
target, whether the volume is still fresh, and the property keys it wrote
(removed again at detach).
"""

from __future__ import annotations

import secrets
import string
import threading
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from oslo_config import cfg

from ironbound import errors, iscsi, records, states
from ironbound.drivers import base
from ironbound.drivers.storage import checks
from ironbound.drivers.storage.managed import volumes
from ironbound.drivers.storage.managed.backend import CONFIG_DRIVE_LUN, Backend, Export
from ironbound.drivers.storage.managed.backend import load as load_backend
from ironbound.sensitive import Secret

NAME = "managed"
RECORD = records.VOLUME_ATTACHMENTS
#: instance_info keys: keep the boot volume at undeploy; authenticate the target too.
KEEP = "keep_boot_volume"
MUTUAL = "mutual_chap"
#: Record key: the attach of the deploy now running created the volume (see _held).
FRESH = "fresh"
#: tgtd numbers its controller LUN 0; the volume is the first real LUN.
LUN = 1
#: States in which a detach ends a deploy that failed (abort, a failed boot, a timeout).
_FAILED_DEPLOY = frozenset({states.DEPLOYING, states.DEPLOYWAIT, states.DEPLOYFAIL})
_CHAP_ALPHABET = string.ascii_letters + string.digits
#: One restore at a time: two nodes sharing a volume must not both re-create it.
_RESTORE = threading.Lock()


def chap_password() -> str:
    """16 letters and digits (~95 bits): what iPXE scripts and every initiator accept."""
    return "".join(secrets.choice(_CHAP_ALPHABET) for _ in range(16))


def initiator(task: base.Task) -> str:
    """The node's initiator IQN: the only one its export admits."""
    for connector in task.volume_connectors:
        if connector.type == "iqn":
            return connector.connector_id
    raise checks.invalid(
        task,
        NAME,
        "The managed volume is exported to the node's initiator only: add a volume connector "
        "of type iqn.",
    )


def size_bytes(task: base.Task) -> int:
    """instance_info/root_gb (or [managed]default_volume_size_gb) in bytes, checked."""
    conf = task.conf.managed
    value = task.node.instance_info.get("root_gb", conf.default_volume_size_gb)
    text = str(value).strip()
    if isinstance(value, bool) or not text.isascii() or not text.isdigit():
        raise checks.invalid(
            task, NAME, f"instance_info/root_gb must be a whole number: {value!r}."
        )
    gib = int(text)
    if not 1 <= gib <= conf.max_volume_size_gb:
        raise checks.invalid(
            task,
            NAME,
            f"instance_info/root_gb is {gib}; it must be between 1 and "
            f"[managed]max_volume_size_gb ({conf.max_volume_size_gb}).",
        )
    return gib * volumes.GIB


def target_portal(task: base.Task, iface: str) -> str:
    """[managed]target_portal, checked: where nodes log in to Ironbound's own tgtd (for
    `iface`'s volumes, or config drives)."""
    portal = task.conf.managed.target_portal
    if not portal:
        raise checks.invalid(
            task,
            iface,
            "[managed]target_portal is not set: Ironbound must tell nodes where to log in "
            "(host:port as the nodes reach tgtd).",
        )
    try:
        iscsi.parse_portal(portal)
    except ValueError as exc:
        raise checks.invalid(task, iface, f"[managed]target_portal: {exc}.") from exc
    return str(portal)


def holders(volume: records.ManagedVolume, node_uuid: str) -> list[str]:
    """The other nodes that hold the volume: its owner and the nodes it is exported to."""
    found = set(volume.initiators) | ({volume.node_uuid} if volume.node_uuid else set())
    return sorted(found - {node_uuid})


def refusal(volume: records.ManagedVolume, node_uuid: str) -> str | None:
    """Why the node may not attach the volume (the multi-attach guard), or None."""
    others = holders(volume, node_uuid)
    if not others or volume.shareable:
        return None
    return (
        f"managed volume {volume.uuid} is {volume.state} for node {', '.join(others)} and is "
        "not shareable; detach it there, or mark it shareable (PATCH /v1/volume/managed/"
        f"{volume.uuid} with shareable=true) if the nodes may use it at once"
    )


def _recorded(task: base.Task) -> dict[str, Mapping[str, Any]]:
    """target uuid -> what the attach recorded, for this interface's entries."""
    found = task.node.driver_internal_info.get(RECORD)
    if not isinstance(found, Mapping):
        return {}
    return {
        str(target): entry
        for target, entry in found.items()
        if isinstance(entry, Mapping) and entry.get("interface") == NAME
    }


class ManagedStorage(base.StorageInterface):
    capabilities = frozenset(
        {
            base.ATTACH_FILLS_TARGETS,
            base.PROVIDES_BOOT_VOLUME,
            base.WRITES_IMAGES,
            base.RECONCILES,
            base.DELIVERS_CONFIG_DRIVE,
        }
    )

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self.backend: Backend = load_backend(conf)

    # --- validate ---------------------------------------------------------------

    def validate(self, task: base.Task) -> None:
        """What can be known without the target: initiator, size, portal, a named volume."""
        checks.check_connectors_and_targets(task, NAME)
        checks.check_boot_interface(task, NAME)
        initiator(task)
        size_bytes(task)
        target_portal(task, NAME)
        target = checks.boot_target(task)
        if target is None:
            return
        volume = task.managed_volumes.get(target.volume_id)
        if volume is None:
            raise checks.invalid(
                task,
                NAME,
                f"Volume target {target.uuid} names volume {target.volume_id}, which is no "
                "managed volume (GET /v1/volume/managed lists them); delete the target and "
                "the deploy creates one.",
            )
        problem = refusal(volume, task.node.uuid)
        if problem is not None:
            raise checks.invalid(task, NAME, f"Volume target {target.uuid}: {problem}.")

    # --- attach -----------------------------------------------------------------

    def attach_volumes(self, task: base.Task) -> None:
        """Export the node's boot volume (creating it if need be) and fill its target."""
        if self._held(task):
            self._restore(task)  # a take-over, or a retry: the export may need re-creating
            return
        target = checks.boot_target(task)
        volume = self._choose(task, target)
        created = volume is None
        if volume is None:
            volume = self._create(task)
        exported = target_made = False
        target_uuid = ""
        try:
            volume, exported = self._export(task, volume), True
            if target is None:
                target_uuid = task.add_volume_target(checks.ISCSI, 0, volume.uuid)
                target_made = True
            else:
                target_uuid = target.uuid
            self._fill(task, target_uuid, volume, created=created, target_made=target_made)
        except Exception:
            if exported:
                self._end_export(task, volume, quietly=True)
            if target_made:
                task.delete_volume_targets([target_uuid])
            if created:
                self._delete(task, volume.uuid, volume.path)
            raise

    def _held(self, task: base.Task) -> bool:
        """Whether an earlier attach still holds; records that no longer do are dropped.

        A volume held from an earlier attach (a rebuild, a take-over, a retry) is no
        longer fresh: the node may have run on it, so no failure may delete it now.
        """
        held: dict[str, Mapping[str, Any]] = {}
        for target_uuid, entry in _recorded(task).items():
            volume = task.managed_volumes.get(str(entry["volume_id"]))
            if volume is not None and task.node.uuid in volume.initiators:
                held[target_uuid] = entry
            else:
                self._forget(task, target_uuid, entry)
        if any(entry.get(FRESH) for entry in held.values()):
            entries = dict(task.node.driver_internal_info.get(RECORD) or {})
            entries.update({uuid: {**entry, FRESH: False} for uuid, entry in held.items()})
            task.set_internal_info(**{RECORD: entries})
        return bool(held)

    def _choose(
        self, task: base.Task, target: records.TargetInfo | None
    ) -> records.ManagedVolume | None:
        """The volume to attach: the one the boot target names, or the node's kept one."""
        if target is not None:
            volume = task.managed_volumes.get(target.volume_id)
            if volume is None:
                raise errors.StorageError(
                    f"volume target {target.uuid} names volume {target.volume_id}, which is no "
                    "managed volume"
                )
        else:
            mine = task.managed_volumes.for_node(task.node.uuid)
            volume = next((v for v in mine if v.node_uuid == task.node.uuid), None)
            if volume is None:
                return None
        problem = refusal(volume, task.node.uuid)
        if problem is not None:
            raise errors.StorageError(problem)
        task.record(f"reusing managed volume {volume.uuid} ({volume.state})")
        return volume

    def _create(self, task: base.Task) -> records.ManagedVolume:
        volume_uuid = str(uuidlib.uuid4())
        path = volumes.directory(task.conf) / f"{volume_uuid}.img"
        size = size_bytes(task)
        volumes.create(path, size)
        volume = records.ManagedVolume(
            uuid=volume_uuid,
            state=records.VOLUME_AVAILABLE,
            size_bytes=size,
            path=str(path),
            target_iqn=f"{task.conf.managed.target_prefix}{volume_uuid}",
            lun=LUN,
            node_uuid=task.node.uuid,
        )
        try:
            task.managed_volumes.save(volume)
        except Exception:
            volumes.remove(str(path))
            raise
        task.record(f"created managed volume {volume_uuid} ({size // volumes.GIB} GiB)")
        return volume

    def _export(self, task: base.Task, volume: records.ManagedVolume) -> records.ManagedVolume:
        """Export for this node: join a shared export as it is, or make a fresh one."""
        node_iqn = initiator(task)
        initiators = {**volume.initiators, task.node.uuid: node_iqn}
        if volume.initiators and self.backend.exists(volume.target_iqn):
            # Shared and in use: the other nodes keep their credentials.
            holder = _config_drive_file(task.conf, volume)
            if holder is not None:
                raise errors.StorageError(
                    f"managed volume {volume.uuid} carries the config drive of the node it is "
                    "attached to, which no other node may see; attach it here once that node "
                    "is undeployed"
                )
            self.backend.allow(volume.target_iqn, node_iqn)
            shared = replace(volume, initiators=initiators)
            task.managed_volumes.save(shared)
            return shared
        mutual = records.is_true(task.node.instance_info.get(MUTUAL, task.conf.managed.mutual_chap))
        account, reverse = _account_names(volume.uuid)
        fresh = replace(
            volume,
            state=records.VOLUME_ATTACHED,
            node_uuid=volume.node_uuid or task.node.uuid,
            initiators=initiators,
            auth_username=account,
            auth_password=Secret(chap_password()),
            reverse_auth_username=reverse if mutual else None,
            reverse_auth_password=Secret(chap_password()) if mutual else None,
        )
        self.backend.export(_export_of(fresh))
        try:
            task.managed_volumes.save(fresh)
        except Exception:
            self.backend.unexport(fresh.target_iqn, _accounts(fresh))
            raise
        task.record(
            f"exported managed volume {volume.uuid} as {volume.target_iqn} LUN {volume.lun} "
            f"to {node_iqn} (CHAP{', mutual' if mutual else ''})"
        )
        return fresh

    def _fill(
        self,
        task: base.Task,
        target_uuid: str,
        volume: records.ManagedVolume,
        *,
        created: bool,
        target_made: bool,
    ) -> None:
        data: dict[str, Any] = {
            "target_iqn": volume.target_iqn,
            "target_portal": target_portal(task, NAME),
            "target_lun": volume.lun,
            "auth_method": "CHAP",
            "auth_username": volume.auth_username,
            "auth_password": volume.auth_password,
        }
        if volume.reverse_auth_username:
            data["reverse_auth_username"] = volume.reverse_auth_username
            data["reverse_auth_password"] = volume.reverse_auth_password
        entries = dict(task.node.driver_internal_info.get(RECORD) or {})
        entries[target_uuid] = {
            "interface": NAME,
            "volume_id": volume.uuid,
            "created": created,
            FRESH: created,
            "target_created": target_made,
            "keys": sorted(data),
        }
        task.set_internal_info(**{RECORD: entries})
        current = next(t for t in task.volume_targets if t.uuid == target_uuid)
        task.set_target_properties(target_uuid, {**current.properties, **data})

    # --- detach -----------------------------------------------------------------

    def detach_volumes(self, task: base.Task) -> None:
        """End this node's exports; keep or delete each volume as the node chose."""
        failed = task.node.provision_state in _FAILED_DEPLOY
        for target_uuid in list(_recorded(task)):
            self._detach(task, target_uuid, failed=failed)
        self._end_unrecorded(task)

    def _end_unrecorded(self, task: base.Task) -> None:
        """End what an attach exported but did not live to record on the node (its
        conductor was killed in between): the volume's row, or tgtd alone, knows it.
        The volume is kept, never deleted: nothing says what it holds."""
        own = {c.connector_id for c in task.volume_connectors if c.type == "iqn"}
        for found in _candidates(task):
            if task.node.uuid in found.initiators:
                volume = self._end_export(task, found, quietly=False)
            elif (  # admitting another node, it is that node's attach under way
                not found.initiators and self.backend.acl(found.target_iqn) in (own, set())
            ):
                self.backend.unexport(found.target_iqn, _account_names(found.uuid))
                volume = found
            else:
                continue
            if not volume.initiators and volume.node_uuid == task.node.uuid:
                task.managed_volumes.save(replace(volume, state=records.VOLUME_KEPT))
            task.record(f"ended the unrecorded export of managed volume {volume.uuid}")

    def _detach(self, task: base.Task, target_uuid: str, *, failed: bool) -> None:
        entry = _recorded(task)[target_uuid]
        volume = task.managed_volumes.get(str(entry["volume_id"]))
        if volume is not None:
            volume = self._end_export(task, volume, quietly=False)
            self._forget_config_drive(task)
            if volume.initiators:
                task.record(f"managed volume {volume.uuid} stays exported to its other nodes")
            elif volume.node_uuid != task.node.uuid:
                task.record(f"managed volume {volume.uuid} detached (it is not this node's)")
            elif self._deletes(task, entry, failed=failed):
                self._delete(task, volume.uuid, volume.path)
            else:
                task.managed_volumes.save(replace(volume, state=records.VOLUME_KEPT))
                task.record(f"managed volume {volume.uuid} kept for the node's next deploy")
        self._forget(task, target_uuid, entry)

    def _deletes(self, task: base.Task, entry: Mapping[str, Any], *, failed: bool) -> bool:
        """The node's choice; but a failed deploy deletes only a fresh volume, since any
        other holds data a node ran on and a failure is no undeploy. A failed rebuild
        never deletes, even when it failed before its attach found the volume held."""
        if failed and (task.rebuilding or not entry.get(FRESH)):
            return False
        return not self._keeps(task, entry)

    def _keeps(self, task: base.Task, entry: Mapping[str, Any]) -> bool:
        """The node's choice for this deployment; without one, a volume kept from before
        stays kept, and a new one follows [managed]keep_boot_volume.

        instance_info is cleared at every undeploy (as Ironic does), so a redeploy of a
        kept volume usually names no choice: its data is then never deleted by omission.
        """
        chosen = task.node.instance_info.get(KEEP)
        if chosen is not None:
            return records.is_true(chosen)
        return not entry.get("created") or bool(task.conf.managed.keep_boot_volume)

    def _end_export(
        self, task: base.Task, volume: records.ManagedVolume, *, quietly: bool
    ) -> records.ManagedVolume:
        """Stop exporting to this node (the whole target when no other node holds it)."""
        others = {k: v for k, v in volume.initiators.items() if k != task.node.uuid}
        node_iqn = volume.initiators.get(task.node.uuid)
        try:
            if others and node_iqn is not None:
                self.backend.disallow(volume.target_iqn, node_iqn)
            elif not others:
                self.backend.unexport(volume.target_iqn, _accounts(volume))
        except errors.StorageError as exc:
            if not quietly:
                raise
            task.record(f"could not end the export of {volume.uuid}: {exc}", severity="warning")
        state = records.VOLUME_ATTACHED if others else records.VOLUME_AVAILABLE
        ended = replace(volume, initiators=others, state=state)
        if not others:
            ended = replace(
                ended,
                auth_username=None,
                auth_password=None,
                reverse_auth_username=None,
                reverse_auth_password=None,
            )
        task.managed_volumes.save(ended)
        return ended

    def _delete(self, task: base.Task, volume_uuid: str, path: str) -> None:
        volumes.remove(path)
        task.managed_volumes.delete(volume_uuid)
        task.record(f"managed volume {volume_uuid} deleted")

    def _forget(self, task: base.Task, target_uuid: str, entry: Mapping[str, Any]) -> None:
        """Drop the record, and the connection data (or the target) the attach made.

        A target the attach created goes: the next deploy finds a kept volume by its
        owner, and a deleted volume must not stay named by a target.
        """
        entries = dict(task.node.driver_internal_info.get(RECORD) or {})
        entries.pop(target_uuid, None)
        task.set_internal_info(**{RECORD: entries or None})
        target = next((t for t in task.volume_targets if t.uuid == target_uuid), None)
        if target is not None and entry.get("target_created"):
            task.delete_volume_targets([target_uuid])
        elif target is not None:
            written = set(entry.get("keys", ()))
            kept = {k: v for k, v in target.properties.items() if k not in written}
            task.set_target_properties(target_uuid, kept)

    # --- the config drive -------------------------------------------------------

    def attach_config_drive(self, task: base.Task, iso: bytes | None) -> None:
        """The ISO as the read-only LUN 2 of the boot volume's target: the node's ACL
        and CHAP guard it, and the booted system's SCSI scan finds it by its label."""
        volume, _ = self._attached(task)
        if iso is None:
            if volumes.config_drive_path(task.conf, task.node.uuid).exists():
                self.backend.set_config_drive(volume.target_iqn, None)
                self._forget_config_drive(task)
            return
        if volume.shareable:
            raise errors.StorageError(
                f"managed volume {volume.uuid} is shareable: a config drive on its target "
                "would reach every node that attaches it. Deploy without a config drive, or "
                "from a volume that is not shareable"
            )
        path = volumes.write_config_drive(task.conf, task.node.uuid, iso)
        try:
            self.backend.set_config_drive(volume.target_iqn, str(path))
        except errors.StorageError:
            volumes.remove(str(path))
            raise
        task.record(
            f"config drive ({len(iso)} bytes) exported read-only as LUN {CONFIG_DRIVE_LUN} of "
            f"{volume.target_iqn}"
        )

    def _forget_config_drive(self, task: base.Task) -> None:
        path = volumes.config_drive_path(task.conf, task.node.uuid)
        if path.exists():
            volumes.remove(str(path))
            task.record("config drive removed")

    # --- the image writer's seam ----------------------------------------------

    def _attached(self, task: base.Task) -> tuple[records.ManagedVolume, Mapping[str, Any]]:
        """The boot volume this node's attach exported, and what the attach recorded."""
        for target_uuid, entry in _recorded(task).items():
            target = next((t for t in task.volume_targets if t.uuid == target_uuid), None)
            if target is not None and target.boot_index == 0:
                volume = task.managed_volumes.get(str(entry["volume_id"]))
                if volume is not None:
                    return volume, entry
        raise errors.StorageError(reason="the node has no managed boot volume attached")

    def image_destination(self, task: base.Task) -> records.ImageDestination:
        volume, entry = self._attached(task)
        return records.ImageDestination(
            description=f"managed volume {volume.uuid} ({volume.size_bytes // volumes.GIB} GiB)",
            path=volume.path,
            size_bytes=volume.size_bytes,
            current_image=volume.image,
            # A sparse file this deploy created: nothing but zeroes in it yet.
            blank=bool(entry.get(FRESH)) and volume.image is None,
        )

    def image_written(self, task: base.Task, image: str | None) -> None:
        """Remember the image; before a write (None), refuse a volume another node holds."""
        volume = self._attached(task)[0]
        others = holders(volume, task.node.uuid)
        if image is None and others:
            raise errors.StorageError(
                reason=f"managed volume {volume.uuid} is {volume.state} for node "
                f"{', '.join(others)}: node {task.node.uuid} does not write its image over "
                "it; unset instance_info/image_source to boot the shared volume as it is"
            )
        task.managed_volumes.save(replace(volume, image=image))

    # --- reconcile --------------------------------------------------------------

    def live_exports(self) -> set[str]:
        """What tgtd serves now: one look, compared by the conductor with the rows."""
        return self.backend.targets()

    def reconcile(self, task: base.Task) -> None:
        """Give a restarted target back the node's exports: the database says what they are.

        Unlike Cinder's drift, which is only shown, this is Ironbound's own
        target, so restoring it is the repair nobody else can make.
        """
        self._restore(task)

    def _restore(self, task: base.Task) -> None:
        for entry in _recorded(task).values():
            volume = task.managed_volumes.get(str(entry["volume_id"]))
            if volume is None or not volume.initiators or volume.auth_password is None:
                continue
            with _RESTORE:
                try:
                    if self.backend.exists(volume.target_iqn):
                        continue
                    self.backend.export(_export_of(volume, _config_drive_file(task.conf, volume)))
                except errors.StorageError as exc:
                    task.record(
                        f"could not restore the export of managed volume {volume.uuid}: {exc}",
                        event_type="storage",
                        severity="error",
                    )
                    continue
            task.record(
                f"the iSCSI target had lost managed volume {volume.uuid} (restarted?): its "
                "export is restored",
                event_type="storage",
                severity="warning",
            )


def _candidates(task: base.Task) -> list[records.ManagedVolume]:
    """The volumes an attach of this node may have exported: those it owns or is
    exported to, and the one its boot target names (another node's, shared)."""
    found = {v.uuid: v for v in task.managed_volumes.for_node(task.node.uuid)}
    target = checks.boot_target(task)
    named = task.managed_volumes.get(target.volume_id) if target is not None else None
    if named is not None:
        found.setdefault(named.uuid, named)
    return list(found.values())


def _config_drive_file(conf: cfg.ConfigOpts, volume: records.ManagedVolume) -> str | None:
    """The config drive of a node the volume is exported to, if one has a config drive
    (a volume with one is exported to that node alone)."""
    for node_uuid in volume.initiators:
        path = volumes.config_drive_path(conf, node_uuid)
        if path.exists():
            return str(path)
    return None


def _export_of(volume: records.ManagedVolume, config_drive: str | None = None) -> Export:
    assert volume.auth_username is not None and volume.auth_password is not None
    return Export(
        target_iqn=volume.target_iqn,
        lun=volume.lun,
        path=str(Path(volume.path)),
        initiators=tuple(volume.initiators.values()),
        username=volume.auth_username,
        password=volume.auth_password,
        reverse_username=volume.reverse_auth_username,
        reverse_password=volume.reverse_auth_password,
        config_drive=config_drive,
    )


def _account_names(volume_uuid: str) -> list[str]:
    """The volume's CHAP account and its target's own (mutual CHAP): named after it, so
    an export whose row was never written can still be ended."""
    account = "ib" + volume_uuid.replace("-", "")[:20]
    return [account, f"{account}t"]


def _accounts(volume: records.ManagedVolume) -> list[str]:
    return [name for name in (volume.auth_username, volume.reverse_auth_username) if name]
