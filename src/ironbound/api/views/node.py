"""A node as Ironic's API shows it, field by field, per microversion."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from sqlalchemy import Row

from ironbound import states
from ironbound.api import driver_checks, links, listing
from ironbound.api import microversions as mv
from ironbound.db.conductors import HardwareEntry
from ironbound.db.models import Node

#: Every node field and the microversion that introduced it.
FIELDS: dict[str, int] = {
    "uuid": 1,
    "name": mv.NODE_NAMES,
    "chassis_uuid": 1,
    "driver": 1,
    "driver_info": 1,
    "driver_internal_info": mv.DRIVER_INTERNAL_INFO,
    "extra": 1,
    "instance_info": 1,
    "instance_uuid": 1,
    "properties": 1,
    "power_state": 1,
    "target_power_state": 1,
    "provision_state": 1,
    "target_provision_state": 1,
    "provision_updated_at": 1,
    "last_error": 1,
    "maintenance": 1,
    "maintenance_reason": 1,
    "console_enabled": 1,
    "reservation": 1,
    "created_at": 1,
    "updated_at": 1,
    "inspection_started_at": mv.INSPECT,
    "inspection_finished_at": mv.INSPECT,
    "clean_step": mv.CLEAN_STEP_FIELD,
    "raid_config": mv.RAID,
    "target_raid_config": mv.RAID,
    "network_interface": mv.NETWORK_INTERFACE,
    "resource_class": mv.RESOURCE_CLASS,
    "boot_interface": mv.INTERFACE_FIELDS,
    "console_interface": mv.INTERFACE_FIELDS,
    "deploy_interface": mv.INTERFACE_FIELDS,
    "inspect_interface": mv.INTERFACE_FIELDS,
    "management_interface": mv.INTERFACE_FIELDS,
    "power_interface": mv.INTERFACE_FIELDS,
    "raid_interface": mv.INTERFACE_FIELDS,
    "vendor_interface": mv.INTERFACE_FIELDS,
    "storage_interface": mv.STORAGE_INTERFACE,
    "rescue_interface": mv.RESCUE,
    "conductor_group": mv.CONDUCTOR_GROUP,
    "conductor": mv.CONDUCTORS,
    "traits": mv.NODE_TRAITS,
    "bios_interface": mv.BIOS_INTERFACE,
    "fault": mv.NODE_FAULT,
    "deploy_step": mv.NODE_DEPLOY_STEP,
    "automated_clean": mv.NODE_AUTOMATED_CLEAN,
    "protected": mv.NODE_PROTECTED,
    "protected_reason": mv.NODE_PROTECTED,
    "owner": mv.NODE_OWNER,
    "description": mv.NODE_DESCRIPTION,
    "allocation_uuid": mv.ALLOCATIONS,
    "links": 1,
    "ports": 1,
    "states": 1,
    "portgroups": mv.PORTGROUPS,
    "volume": mv.VOLUME,
}

#: What a list without detail shows.
SUMMARY = (
    "uuid",
    "name",
    "instance_uuid",
    "power_state",
    "provision_state",
    "maintenance",
    "links",
)

#: Fields that are links to sub-resources, with the path under the node.
_SUBRESOURCES = {
    "ports": "ports",
    "states": "states",
    "portgroups": "portgroups",
    "volume": "volume",
}

#: Fields `render` computes; every other field is the column of its name, as stored.
_DERIVED = frozenset(
    {
        "links",
        *_SUBRESOURCES,
        "traits",
        "chassis_uuid",
        "allocation_uuid",
        "provision_state",
        "conductor",
    }
)

#: Fields a client may sort by (one newer than the request's version is a 406).
SORTABLE = frozenset(
    {
        "bios_interface",
        "fault",
        "automated_clean",
        "protected",
        "protected_reason",
        "owner",
        "description",
        "id",
        "uuid",
        "name",
        "driver",
        "instance_uuid",
        "provision_state",
        "power_state",
        "maintenance",
        "created_at",
        "updated_at",
        "provision_updated_at",
        "resource_class",
        "inspection_started_at",
        "inspection_finished_at",
    }
)

#: The nodes table's columns, which `render` shows as stored unless named below.
_COLUMNS = frozenset(Node.__table__.columns.keys())

NODES = listing.Resource("nodes", "nodes", listing.FieldTable(FIELDS, SUMMARY), SORTABLE)


def provision_state(state: str, minor: int) -> str | None:
    """A provision state as microversion `minor` names it (as Ironic renames newer states)."""
    if state == states.AVAILABLE and minor < mv.AVAILABLE_STATE_NAME:
        return None
    if state == states.INSPECTWAIT and minor < mv.INSPECT_WAIT:
        return states.INSPECTING
    return state


def columns(names: Sequence[str]) -> set[str]:
    """The node columns `render` reads for `names`, so that a list page selects only those.

    Every page needs the row id (its traits) and the UUID (links, the next marker).
    """
    needed = {"id", "uuid"}
    for name in names:
        if name == "conductor":
            needed.update(("driver", "conductor_group"))
        elif name in _COLUMNS:
            needed.add(name)
    return needed


def render(
    node: Node | Row[Any],
    names: Sequence[str],
    minor: int,
    base_url: str,
    catalogue: Callable[[], Mapping[str, HardwareEntry]],
    traits: Sequence[str] = (),
) -> dict[str, Any]:
    """The node's wire document with exactly `names` (in this order).

    `node` is an ORM object or a plain row of the nodes table (list pages);
    `catalogue` gives the API's cached catalogue, asked only when `names` has the
    node's conductor (it names it without a query);
    `traits` are its traits (`db/traits`), read by the caller when `names`
    has them, once for a whole page.
    """
    # A row's mapping reads a column several times faster than the row's attribute.
    column = node._mapping.__getitem__ if isinstance(node, Row) else partial(getattr, node)
    out: dict[str, Any] = {}
    for name in names:
        if name not in _DERIVED:
            out[name] = column(name)
        elif name == "links":
            out[name] = links.pair(base_url, f"nodes/{column('uuid')}")
        elif name in _SUBRESOURCES:
            out[name] = links.pair(base_url, f"nodes/{column('uuid')}/{_SUBRESOURCES[name]}")
        elif name == "traits":
            out[name] = list(traits)
        elif name in ("chassis_uuid", "allocation_uuid"):  # neither is offered
            out[name] = None
        elif name == "provision_state":
            out[name] = provision_state(column(name), minor)
        elif name == "conductor":
            out[name] = driver_checks.conductor_for(
                catalogue(), column("driver"), column("conductor_group"), column("uuid")
            )
    return out
