"""Loading hardware types and interfaces from entry points, as the config enables them.

Entry point groups (`plugins`, Ironbound's one plug-in mechanism):
``ironbound.hardware.types`` for hardware types and
``ironbound.hardware.interfaces.<type>`` for implementations, so a third party
can plug in its own by installing a package. For each enabled hardware type
the registry works out which implementations a node may use (supported by
the type and enabled in config) and which one a node gets by default.

Implementations are imported when a node first needs them, not at start:
the Redfish interfaces pull in sushy and requests (about 14 MiB) that a
conductor driving only other hardware never needs. `describe()` loads
everything once, to fail fast on a broken plug-in and to publish the
driver_info keys each hardware type reads; the service runs it in a
short-lived subprocess.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import cast

from oslo_config import cfg

from ironbound import errors, plugins
from ironbound.config import INTERFACE_TYPES
from ironbound.drivers.base import (
    INTERFACE_BASES,
    REQUIRED_INTERFACES,
    BaseInterface,
    Driver,
    HardwareType,
)

HARDWARE_GROUP = plugins.HARDWARE_TYPES
INTERFACE_GROUP = plugins.HARDWARE_INTERFACES


@dataclass(frozen=True)
class HardwareProfile:
    """For one hardware type: the usable implementations per interface and the defaults."""

    name: str
    enabled: Mapping[str, tuple[str, ...]]
    defaults: Mapping[str, str | None]


class Registry:
    """The loaded drivers of one conductor."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self._instances: dict[tuple[str, str], BaseInterface] = {}
        self._lock = threading.Lock()
        self.profiles: dict[str, HardwareProfile] = {}
        available_types = plugins.group(HARDWARE_GROUP)
        for hw_name in conf.enabled_hardware_types:
            if hw_name not in available_types:
                raise errors.DriverNotFound(driver=hw_name)
            hw_class = plugins.load(HARDWARE_GROUP, hw_name, HardwareType)
            self.profiles[hw_name] = self._profile(hw_name, hw_class)

    def interface(self, interface_type: str, name: str) -> BaseInterface:
        """The one instance of an implementation, loaded at first use."""
        key = (interface_type, name)
        with self._lock:
            if key not in self._instances:
                group = INTERFACE_GROUP.format(interface_type)
                cls = plugins.load(group, name, INTERFACE_BASES[interface_type])
                self._instances[key] = cls(self.conf)
            return self._instances[key]

    def _profile(self, hw_name: str, hw_class: type[HardwareType]) -> HardwareProfile:
        enabled: dict[str, tuple[str, ...]] = {}
        defaults: dict[str, str | None] = {}
        for iface in INTERFACE_TYPES:
            wanted = set(getattr(self.conf, f"enabled_{iface}_interfaces"))
            names = tuple(n for n in hw_class.supported.get(iface, ()) if n in wanted)
            known = plugins.group(INTERFACE_GROUP.format(iface))
            unknown = [n for n in names if n not in known]
            if unknown:
                raise errors.InterfaceNotFound(
                    interface_type=iface, name=unknown[0], valid=sorted(known)
                )
            enabled[iface] = names
            configured = getattr(self.conf, f"default_{iface}_interface")
            if configured and configured in names:
                defaults[iface] = configured
            else:
                defaults[iface] = names[0] if names else None
            if iface in REQUIRED_INTERFACES and not names:
                raise errors.InvalidParameterValue(
                    reason=f"Hardware type {hw_name} needs a {iface} interface, but none of "
                    f"{list(hw_class.supported.get(iface, ()))} is in "
                    f"enabled_{iface}_interfaces."
                )
        return HardwareProfile(name=hw_name, enabled=enabled, defaults=defaults)

    def driver_for(self, hardware_type: str, interfaces: Mapping[str, str | None]) -> Driver:
        """The composite driver for a node's hardware type and interface names.

        :raises DriverNotFound: the hardware type is not enabled here.
        :raises InterfaceNotFound: an interface is not usable with this type.
        """
        profile = self.profiles.get(hardware_type)
        if profile is None:
            raise errors.DriverNotFound(driver=hardware_type)
        parts: dict[str, BaseInterface] = {}
        for iface in INTERFACE_TYPES:
            name = interfaces.get(iface) or profile.defaults[iface]
            if name is None or name not in profile.enabled[iface]:
                raise errors.InterfaceNotFound(
                    interface_type=iface, name=name, valid=sorted(profile.enabled[iface])
                )
            parts[iface] = self.interface(iface, name)
        return cast(Driver, SimpleNamespace(**parts))

    def enabled_with(self, interface_type: str, capability: str) -> list[str]:
        """Names of the enabled implementations of `interface_type` that declare `capability`."""
        names = {n for profile in self.profiles.values() for n in profile.enabled[interface_type]}
        return sorted(
            n for n in names if capability in self.interface(interface_type, n).capabilities
        )

    def properties(self, hardware_type: str) -> dict[str, str]:
        """driver_info keys the hardware type's enabled interfaces understand (loads them)."""
        profile = self.profiles.get(hardware_type)
        if profile is None:
            raise errors.DriverNotFound(driver=hardware_type)
        result: dict[str, str] = {}
        for iface in INTERFACE_TYPES:
            for name in profile.enabled[iface]:
                result.update(self.interface(iface, name).get_properties())
        return result


def describe(config_files: list[str], overrides: dict[str, object]) -> dict[str, dict[str, str]]:
    """Load every enabled implementation; the driver_info keys per hardware type.

    Meant for a subprocess (see the module docstring), hence the plain
    arguments: the configuration is rebuilt from them.
    """
    from ironbound import config  # noqa: PLC0415

    registry = Registry(config.load(config_files, overrides))
    return {name: registry.properties(name) for name in registry.profiles}
