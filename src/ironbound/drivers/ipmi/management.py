"""Boot device through an IPMI BMC (Set/Get System Boot Options, boot flags).

Ironic's device names map to the IPMI boot device selectors pyghmi names; every
IPMI BMC is asked the same way, so all five are offered: pxe, disk, cdrom, bios
(setup) and safe. ``persistent`` sets the boot flags' "all future boots" bit,
otherwise the override holds for the next boot only. Whether a BMC honours it is
its own business: virtualbmc, for one, keeps every device it knows persistently and
ignores bios and safe (see docs/ipmi.md).
"""

from __future__ import annotations

import logging
from typing import Any

from ironbound import errors
from ironbound.drivers import base
from ironbound.drivers.ipmi import client

LOG = logging.getLogger(__name__)

BOOT_DEVICES: dict[str, str] = {
    base.PXE: "network",
    base.DISK: "hd",
    base.CDROM: "optical",
    base.BIOS: "setup",
    base.SAFE: "safe",
}
_DEVICE_OF: dict[str, str] = {target: device for device, target in BOOT_DEVICES.items()}


class IPMIManagement(base.ManagementInterface):
    """Boot device (pxe, disk, cdrom, bios, safe) through IPMI boot options."""

    def validate(self, task: base.Task) -> None:
        client.parse_driver_info(task.node.driver_info)

    def get_properties(self) -> dict[str, str]:
        return dict(client.PROPERTIES)

    def get_supported_boot_devices(self, task: base.Task) -> list[str]:
        client.parse_driver_info(task.node.driver_info)
        return list(BOOT_DEVICES)

    def set_boot_device(self, task: base.Task, device: str, persistent: bool = False) -> None:
        """Set the boot override.

        :raises InvalidParameterValue: `device` is unknown.
        :raises BMCError: the BMC could not be reached or refused the change.
        """
        if device not in BOOT_DEVICES:
            raise errors.InvalidParameterValue(
                reason=f"Invalid boot device {device!r}; valid devices are "
                f"{', '.join(BOOT_DEVICES)}."
            )
        with client.connect(self.conf, task) as bmc:
            LOG.info(
                "Node %s: setting boot device %s (%s) (%s)",
                bmc.node,
                device,
                "persistent" if persistent else "next boot",
                bmc.info.where,
            )
            answer = bmc.call(
                f"setting boot device {device}",
                lambda ipmi: ipmi.set_bootdev(BOOT_DEVICES[device], persist=persistent),
            )
            if isinstance(answer, dict) and "error" in answer:
                raise errors.BMCError(
                    node=bmc.node,
                    reason=bmc.scrub(
                        f"the BMC refused boot device {device} ({answer['error']}) "
                        f"({bmc.info.where})"
                    ),
                )

    def inject_nmi(self, task: base.Task) -> None:
        """Chassis Control "pulse diagnostic interrupt" (pyghmi's power state ``diag``),
        what ipmitool's ``power diag`` sends for Ironic."""
        with client.connect(self.conf, task) as bmc:
            LOG.info("Node %s: injecting an NMI (%s)", bmc.node, bmc.info.where)
            bmc.call("injecting an NMI", lambda ipmi: ipmi.set_power("diag"))

    def get_boot_device(self, task: base.Task) -> dict[str, Any]:
        """The override the BMC reports; None for both when it has none."""
        with client.connect(self.conf, task) as bmc:
            answer = bmc.call("reading the boot device", lambda ipmi: ipmi.get_bootdev())
        target = answer.get("bootdev") if isinstance(answer, dict) else None
        if target in (None, "default"):
            return {"boot_device": None, "persistent": None}
        return {
            "boot_device": _DEVICE_OF.get(str(target)),
            "persistent": bool(answer.get("persistent")),
        }
