"""Validation shared by the storage interfaces that boot nodes from volumes.

Ironic checks most of this only half-way into a deploy, or not at all for
the external interface; Ironbound checks it in `validate`, which the deploy
flow runs before it touches anything.
"""

from __future__ import annotations

from ironbound import errors, records
from ironbound.drivers import base

ISCSI = "iscsi"
FIBRE_CHANNEL = "fibre_channel"


def boot_target(task: base.Task) -> records.TargetInfo | None:
    """The node's boot volume (boot_index 0), if it has one."""
    return next((t for t in task.volume_targets if t.boot_index == 0), None)


def boots_from_volume(task: base.Task) -> bool:
    """True when the node boots from a volume: it has a boot volume (or its storage
    interface creates one at attach), and any image_source is written onto that volume.

    Ironic's rule is narrower: an image_source always means a local disk deploy.
    """
    storage = task.driver.storage.capabilities
    has_volume = boot_target(task) is not None or base.PROVIDES_BOOT_VOLUME in storage
    return has_volume and (
        "image_source" not in task.node.instance_info or base.WRITES_IMAGES in storage
    )


def invalid(task: base.Task, iface: str, reason: str) -> errors.InvalidParameterValue:
    """The error for a failed storage check, naming the interface and the node."""
    return errors.InvalidParameterValue(
        reason=f"Failed to validate {iface} storage interface for node {task.node.uuid}. {reason}"
    )


def check_connectors_and_targets(task: base.Task, iface: str) -> None:
    """Capabilities, connector types and target types must fit together.

    :raises InvalidParameterValue: with the first mismatch found.
    """
    caps = task.node.capabilities
    types = [c.type for c in task.volume_connectors]
    has_iqn = "iqn" in types
    wwpns, wwnns = types.count("wwpn"), types.count("wwnn")
    if records.is_true(caps.get("iscsi_boot", False)) and not has_iqn:
        raise invalid(
            task,
            iface,
            "In order to enable the 'iscsi_boot' capability for the node, an associated "
            "volume_connector type must be valid for iSCSI (iqn).",
        )
    if records.is_true(caps.get("fibre_channel_boot", False)) and not wwpns:
        raise invalid(
            task,
            iface,
            "In order to enable the 'fibre_channel_boot' capability for the node, an "
            "associated volume_connector type must be valid for Fibre Channel (wwpn).",
        )
    if wwpns != wwnns and wwnns:
        raise invalid(
            task,
            iface,
            f"Fibre Channel needs a wwnn connector for every wwpn connector; the node has "
            f"{wwpns} wwpn and {wwnns} wwnn connectors.",
        )
    for target in task.volume_targets:
        if target.volume_type == ISCSI:
            capability, connector_ok, connector_kind = "iscsi_boot", has_iqn, "iqn"
        elif target.volume_type == FIBRE_CHANNEL:
            capability, connector_ok, connector_kind = "fibre_channel_boot", wwpns > 0, "wwpn"
        else:
            raise invalid(
                task,
                iface,
                f"Volume target {target.uuid} has unknown type '{target.volume_type}'. "
                "Supported types: 'iscsi' or 'fibre_channel'.",
            )
            continue
        if target.boot_index == 0 and not records.is_true(caps.get(capability, False)):
            raise invalid(
                task,
                iface,
                f"Volume target {target.uuid} is the boot volume ({target.volume_type}), but "
                f"the node's properties/capabilities do not contain '{capability}:True'.",
            )
        if not connector_ok:
            raise invalid(
                task,
                iface,
                f"Volume target {target.uuid} is {target.volume_type}, but the node has no "
                f"volume connector of type {connector_kind} to reach it with.",
            )


def check_boot_interface(task: base.Task, iface: str) -> None:
    """A node that boots from an iSCSI volume needs a boot interface that can do it."""
    target = boot_target(task)
    if (
        boots_from_volume(task)
        and target is not None
        and target.volume_type == ISCSI
        and base.ISCSI_VOLUME_BOOT not in task.driver.boot.capabilities
    ):
        raise invalid(
            task,
            iface,
            f"To boot from an iSCSI volume, the boot interface must be one that can "
            f"(ipxe); node {task.node.uuid} uses '{task.node.interfaces.get('boot')}'.",
        )
