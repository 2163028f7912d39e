"""Boot device and boot mode through a Redfish BMC (the system's Boot override).

Ironic's device names map to Redfish BootSourceOverrideTarget values; a
device is on offer only if the BMC lists its target among the allowable
values (a BMC that lists none is taken to allow all). ``persistent`` maps to
BootSourceOverrideEnabled Continuous, otherwise Once. When the node's
capabilities name a boot_mode (uefi or bios), every boot device change
carries it too, since some BMCs fall back to their default mode when the
override is written without one.
"""

from __future__ import annotations

import logging
from typing import Any

import sushy

from ironbound import errors
from ironbound.drivers import base
from ironbound.drivers.redfish import client

LOG = logging.getLogger(__name__)

BOOT_DEVICES: dict[str, Any] = {
    base.PXE: sushy.BootSource.PXE,
    base.DISK: sushy.BootSource.HDD,
    base.CDROM: sushy.BootSource.CD,
    base.BIOS: sushy.BootSource.BIOS_SETUP,
}
_DEVICE_OF: dict[Any, str] = {target: device for device, target in BOOT_DEVICES.items()}

UEFI = "uefi"
LEGACY_BIOS = "bios"
BOOT_MODES: dict[str, Any] = {
    UEFI: sushy.BootSourceOverrideMode.UEFI,
    LEGACY_BIOS: sushy.BootSourceOverrideMode.LEGACY,
}
_MODE_OF: dict[Any, str] = {mode: name for name, mode in BOOT_MODES.items()}


def _requested_boot_mode(task: base.Task) -> str | None:
    mode = task.node.capabilities.get("boot_mode")
    if mode is None:
        return None
    if mode not in BOOT_MODES:
        raise errors.InvalidParameterValue(
            reason=f"Invalid properties capabilities boot_mode: {mode!r} is not one of "
            f"{', '.join(BOOT_MODES)}."
        )
    return mode


class RedfishManagement(base.ManagementInterface):
    """Boot device (pxe, disk, cdrom, bios) and boot mode (uefi, bios) via Redfish."""

    def validate(self, task: base.Task) -> None:
        client.parse_driver_info(task.node.driver_info)
        _requested_boot_mode(task)

    def get_properties(self) -> dict[str, str]:
        return dict(client.PROPERTIES)

    def get_supported_boot_devices(self, task: base.Task) -> list[str]:
        bmc = client.open_bmc(self.conf, task)
        return self._supported(bmc, self._system(bmc))

    def set_boot_device(self, task: base.Task, device: str, persistent: bool = False) -> None:
        """Set the boot override.

        :raises InvalidParameterValue: `device` is unknown, or this BMC does not offer it.
        :raises BMCError: the BMC could not be reached or refused the change.
        """
        if device not in BOOT_DEVICES:
            raise errors.InvalidParameterValue(
                reason=f"Invalid boot device {device!r}; valid devices are "
                f"{', '.join(BOOT_DEVICES)}."
            )
        mode = _requested_boot_mode(task)
        bmc = client.open_bmc(self.conf, task)
        system = self._system(bmc)
        supported = self._supported(bmc, system)
        if device not in supported:
            raise errors.InvalidParameterValue(
                reason=f"Boot device {device} is not offered by the BMC ({bmc.info.where}); "
                f"it offers {', '.join(supported) or 'none'}."
            )
        enabled = (
            sushy.BootSourceOverrideEnabled.CONTINUOUS
            if persistent
            else sushy.BootSourceOverrideEnabled.ONCE
        )
        LOG.info(
            "Node %s: setting boot device %s (%s%s) (%s)",
            bmc.node,
            device,
            enabled.value,
            f", {mode}" if mode else "",
            bmc.info.where,
        )
        with bmc.talking(f"setting boot device {device}"):
            system.set_system_boot_options(
                target=BOOT_DEVICES[device],
                enabled=enabled,
                mode=BOOT_MODES[mode] if mode else None,
            )

    def get_boot_device(self, task: base.Task) -> dict[str, Any]:
        """The override the BMC reports; None for both when it has none active."""
        bmc = client.open_bmc(self.conf, task)
        boot = self._system(bmc).boot
        enabled = boot.enabled if boot is not None else None
        if enabled is None or enabled == sushy.BootSourceOverrideEnabled.DISABLED:
            return {"boot_device": None, "persistent": None}
        return {
            "boot_device": _DEVICE_OF.get(boot.target),
            "persistent": enabled == sushy.BootSourceOverrideEnabled.CONTINUOUS,
        }

    def get_supported_boot_modes(self, task: base.Task) -> list[str]:
        return list(BOOT_MODES)

    def get_boot_mode(self, task: base.Task) -> str | None:
        """uefi or bios as the BMC reports it, or None if it does not say."""
        bmc = client.open_bmc(self.conf, task)
        boot = self._system(bmc).boot
        return _MODE_OF.get(boot.mode) if boot is not None else None

    def set_boot_mode(self, task: base.Task, mode: str) -> None:
        """Switch between UEFI and legacy BIOS boot.

        :raises InvalidParameterValue: `mode` is neither uefi nor bios.
        :raises BMCError: the BMC could not be reached or refused the change.
        """
        if mode not in BOOT_MODES:
            raise errors.InvalidParameterValue(
                reason=f"Invalid boot mode {mode!r}; valid modes are {', '.join(BOOT_MODES)}."
            )
        bmc = client.open_bmc(self.conf, task)
        system = self._system(bmc)
        LOG.info("Node %s: setting boot mode %s (%s)", bmc.node, mode, bmc.info.where)
        with bmc.talking(f"setting boot mode {mode}"):
            system.set_system_boot_options(mode=BOOT_MODES[mode])

    def inject_nmi(self, task: base.Task) -> None:
        """The system's reset action with ResetType Nmi, when the BMC offers it.

        :raises UnsupportedDriverExtension: the BMC lists no Nmi reset type.
        """
        bmc = client.open_bmc(self.conf, task)
        system = self._system(bmc)
        with bmc.talking("reading the reset types on offer"):
            allowed = set(system.get_allowed_reset_system_values())
        if sushy.ResetType.NMI not in allowed:
            raise errors.UnsupportedDriverExtension(
                driver=task.node.driver, extension="inject_nmi (the BMC offers no Nmi reset)"
            )
        LOG.info("Node %s: sending Redfish reset Nmi (%s)", bmc.node, bmc.info.where)
        with bmc.talking("sending reset Nmi"):
            system.reset_system(sushy.ResetType.NMI)

    @staticmethod
    def _system(bmc: client.BMC) -> Any:
        with bmc.talking("reading the system"):
            return bmc.system()

    @staticmethod
    def _supported(bmc: client.BMC, system: Any) -> list[str]:
        with bmc.talking("reading the boot devices on offer"):
            allowed = system.get_allowed_system_boot_source_values()
        return [device for device, target in BOOT_DEVICES.items() if target in allowed]
