"""The hardware types Ironbound ships: which implementations each combines."""

from __future__ import annotations

from ironbound.drivers.base import HardwareType

_STORAGE = ("noop", "cinder", "external", "managed", "fake")


class FakeHardware(HardwareType):
    """Fakes first, so a node on fake-hardware touches nothing unless told to."""

    name = "fake-hardware"
    supported = {
        "bios": ("fake", "no-bios"),
        "boot": ("fake", "ipxe"),
        "console": ("fake", "no-console"),
        "deploy": ("fake", "direct", "ramdisk"),
        "inspect": ("fake", "no-inspect"),
        "management": ("fake",),
        "network": ("noop",),
        "power": ("fake",),
        "raid": ("fake", "no-raid"),
        "rescue": ("no-rescue",),  # boot from volume has no rescue ramdisk
        "storage": _STORAGE,
        "vendor": ("fake", "no-vendor"),
    }


class RedfishHardware(HardwareType):
    """A server whose BMC speaks Redfish, booting through iPXE."""

    name = "redfish"
    supported = {
        "bios": ("no-bios",),
        "boot": ("ipxe",),
        "console": ("no-console",),
        "deploy": ("direct", "ramdisk"),
        "inspect": ("no-inspect",),
        "management": ("redfish",),
        "network": ("noop",),
        "power": ("redfish",),
        "raid": ("no-raid",),
        "rescue": ("no-rescue",),
        "storage": _STORAGE[:4],
        "vendor": ("no-vendor",),
    }


class IPMIHardware(HardwareType):
    """A server whose BMC speaks IPMI, booting through iPXE."""

    name = "ipmi"
    supported = {
        **RedfishHardware.supported,
        "management": ("ipmi",),
        "power": ("ipmi",),
    }
