"""Plug-ins are entry points: the one way Ironbound is extended.

Every kind of plug-in is an entry point group of the installed packages, so a
third party adds one by installing a package that declares it, and the
implementations shipped in the tree are registered the same way in
pyproject.toml (the plug-in path is always the one exercised):

* ``ironbound.hardware.types`` and ``ironbound.hardware.interfaces.<type>``:
  hardware types and their interfaces (`drivers/registry.py`);
* ``ironbound.dhcp.providers``: what ``[dhcp]dhcp_provider`` names (`dhcp`);
* ``ironbound.managed.backends``: the iSCSI target ``[managed]target_helper``
  names, which the managed storage drives (`drivers/storage/managed`).

A plug-in is imported when it is first loaded, not when its group is read.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

from ironbound import errors

T = TypeVar("T")

HARDWARE_TYPES = "ironbound.hardware.types"
HARDWARE_INTERFACES = "ironbound.hardware.interfaces.{}"
DHCP_PROVIDERS = "ironbound.dhcp.providers"
MANAGED_BACKENDS = "ironbound.managed.backends"


@functools.cache
def group(name: str) -> dict[str, EntryPoint]:
    """The entry points of group `name`, by plug-in name."""
    # Installed entry points do not change while a process runs, and scanning
    # them is the slowest part of building a driver registry.
    return {ep.name: ep for ep in entry_points(group=name)}


def load(group_name: str, name: str, kind: type[T]) -> type[T]:
    """The class registered as `name` in `group_name`, imported now.

    :raises KeyError: nothing is registered under `name` (callers check first,
        or use `load_configured`, which says which option is wrong).
    :raises TypeError: what is registered is not a subclass of `kind`.
    """
    loaded = group(group_name)[name].load()
    if not (isinstance(loaded, type) and issubclass(loaded, kind)):
        raise TypeError(f"{loaded!r} registered as {name!r} in {group_name} is not a {kind}")
    return loaded


def load_configured(group_name: str, option: str, name: str, kind: type[T]) -> type[T]:
    """`load`, for a plug-in an option names: an unknown name is a configuration error.

    :raises PluginNotFound: `name` is not registered in `group_name`.
    """
    installed = group(group_name)
    if name not in installed:
        raise errors.PluginNotFound(
            option=option, name=name, kind=group_name, valid=", ".join(sorted(installed))
        )
    return load(group_name, name, kind)
