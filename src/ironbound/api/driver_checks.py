"""Checking a node's hardware type and interface names against live conductors."""

from __future__ import annotations

from collections.abc import Mapping

from ironbound import errors
from ironbound.api import microversions as mv
from ironbound.api import problems
from ironbound.api.services import ApiServices
from ironbound.config import INTERFACE_TYPES
from ironbound.db.conductors import HardwareEntry

#: The microversion at which each interface field appears on the wire; the
#: others are internal (a node still gets their defaults).
INTERFACE_VERSIONS: dict[str, int] = {
    "network": mv.NETWORK_INTERFACE,
    "boot": mv.INTERFACE_FIELDS,
    "console": mv.INTERFACE_FIELDS,
    "deploy": mv.INTERFACE_FIELDS,
    "inspect": mv.INTERFACE_FIELDS,
    "management": mv.INTERFACE_FIELDS,
    "power": mv.INTERFACE_FIELDS,
    "raid": mv.INTERFACE_FIELDS,
    "vendor": mv.INTERFACE_FIELDS,
    "storage": mv.STORAGE_INTERFACE,
    "bios": mv.BIOS_INTERFACE,
}


def hardware(services: ApiServices, driver: str) -> HardwareEntry:
    """The catalogue entry for `driver`.

    :raises NoValidHost: no live conductor offers it.
    """
    entry = services.catalogue().get(driver)
    if entry is None:
        raise problems.NoConductorForDriver(driver=driver, offered=sorted(services.catalogue()))
    return entry


def resolve(
    services: ApiServices, driver: str, requested: Mapping[str, str | None]
) -> dict[str, str]:
    """Interface name per type: as requested (checked) or the hardware type's default.

    :raises InterfaceNotFound: a requested name is not enabled for `driver`.
    """
    entry = hardware(services, driver)
    result: dict[str, str] = {}
    for iface in INTERFACE_TYPES:
        enabled = entry.enabled.get(iface, [])
        name = requested.get(iface)
        if name is None:
            name = entry.defaults.get(iface)
            if name is None:
                continue
        if name not in enabled:
            raise errors.InterfaceNotFound(interface_type=iface, name=name, valid=sorted(enabled))
        result[iface] = name
    return result
