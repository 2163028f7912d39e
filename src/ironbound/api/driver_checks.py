"""Checking a node's hardware type and interface names against live conductors."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from ironbound import errors
from ironbound.api import microversions as mv
from ironbound.api import problems
from ironbound.api.services import ApiServices
from ironbound.config import CONDUCTOR_GROUP_MAX, CONDUCTOR_GROUP_PATTERN, INTERFACE_TYPES
from ironbound.db import nodes
from ironbound.db.conductors import HardwareEntry
from ironbound.db.models import Node

_GROUP = re.compile(CONDUCTOR_GROUP_PATTERN)

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
    "rescue": mv.RESCUE,
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


def conductor_group(value: str | None) -> str:
    """A node's conductor group as stored: checked, lower case; none is the empty group.

    :raises InvalidConductorGroup: letters, digits, `_ - .`, at most 255.
    """
    if value is None:
        return ""
    if len(value) > CONDUCTOR_GROUP_MAX or not _GROUP.match(value):
        raise problems.InvalidConductorGroup(group=value)
    return value.lower()


def conductor_for(
    catalogue: Mapping[str, HardwareEntry], driver: str, group: str, node_uuid: str
) -> str | None:
    """The live conductor that answers for a node, or None when no conductor of its
    group offers its hardware type.

    Rendezvous hashing on the node's UUID: every API process picks the same
    conductor from the same catalogue, and a conductor that comes or goes
    moves only the nodes it wins or won. Any conductor of the group may run
    the node's jobs; this names the one Ironic's hash ring would.
    """
    entry = catalogue.get(driver)
    hosts = entry.groups.get(group, []) if entry is not None else []
    if not hosts:
        return None
    return max(hosts, key=lambda host: hashlib.sha256(f"{node_uuid}/{host}".encode()).digest())


def require_conductor(services: ApiServices, node: Node | nodes.Changing) -> None:
    """Refuse at once work that no live conductor would take: none of the node's conductor
    group offers its hardware type.

    :raises NoConductorInGroup: as Ironic's hash ring answers (No valid host).
    """
    if conductor_for(services.catalogue(), node.driver, node.conductor_group, node.uuid) is None:
        raise problems.NoConductorInGroup(driver=node.driver, group=node.conductor_group)
