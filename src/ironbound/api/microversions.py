"""API microversions: the range we serve and the features each one brings.

Only versions whose behaviour Ironbound implements are advertised. The
constants name the minor version that introduced a feature, as Ironic's do.
"""

from __future__ import annotations

import re

from ironbound.api import problems

MAJOR = 1
MIN_MINOR = 1
MAX_MINOR = 56

MIN_VERSION = f"{MAJOR}.{MIN_MINOR}"
MAX_VERSION = f"{MAJOR}.{MAX_MINOR}"

AVAILABLE_STATE_NAME = 2  # "available" is shown as such (None before)
DRIVER_INTERNAL_INFO = 3
MANAGE_PROVIDE = 4
NODE_NAMES = 5
INSPECT = 6
CLEAN_STEP_FIELD = 7
FIELDS_PARAM = 8
PROVISION_STATE_FILTER = 9
ENROLL_ON_CREATE = 11
RAID = 12
ABORT = 13
MANUAL_CLEAN = 15
DRIVER_FILTER = 16
ADOPT = 17
PORT_INTERNAL_INFO = 18
PORT_LOCAL_LINK = 19
NETWORK_INTERFACE = 20
RESOURCE_CLASS = 21
PORTGROUP_API = 23  # /v1/portgroups
PORTGROUPS = 24  # a node's and a port group's sub-resources, ports' portgroup_uuid
PORTGROUP_MODE = 26  # a port group's mode and properties
SOFT_POWER = 27
VIFS = 28
INJECT_NMI = 29
DYNAMIC_DRIVERS = 30
INTERFACE_FIELDS = 31
VOLUME = 32
STORAGE_INTERFACE = 33
PORT_PHYSICAL_NETWORK = 34
REBUILD_CONFIGDRIVE = 35  # a configdrive may come with "rebuild"
NODE_TRAITS = 37  # a node's traits field and /v1/nodes/{id}/traits
RESCUE = 38  # rescue_interface, the rescue and unrescue verbs
INSPECT_WAIT = 39  # "inspect wait" is shown as such ("inspecting" before)
BIOS_INTERFACE = 40  # bios_interface and /v1/nodes/{id}/bios
INSPECT_ABORT = 41  # abort from "inspect wait"
NODE_FAULT = 42  # the fault field and filter
DETAIL_QUERY = 43  # ?detail= on node, port and port group lists
NODE_DEPLOY_STEP = 44
RESET_INTERFACES = 45  # ?reset_interfaces= on a node PATCH
CONDUCTOR_GROUP = 46
NODE_AUTOMATED_CLEAN = 47
NODE_PROTECTED = 48  # protected and protected_reason
CONDUCTORS = 49  # /v1/conductors and a node's conductor
NODE_OWNER = 50  # the owner field and filter
NODE_DESCRIPTION = 51
ALLOCATIONS = 52  # a node's allocation_uuid (always null: allocations are not offered)
PORT_SMARTNIC = 53  # a port's is_smartnic
EVENTS = 54  # POST /v1/events (Neutron's network events)
DEPLOY_TEMPLATES = 55  # /v1/deploy_templates (not offered)
BUILD_CONFIGDRIVE = 56  # a configdrive may be a JSON object the conductor builds
# Beyond MAX_MINOR: named for the checks that are ready when Ironbound serves them.
CONFIGDRIVE_VENDOR_DATA = 59  # such an object may hold vendor_data

HEADER = "X-OpenStack-Ironic-API-Version"
# ASCII digits only: str.isdigit() also accepts '²', which int() then refuses.
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")
MIN_HEADER = "X-OpenStack-Ironic-API-Minimum-Version"
MAX_HEADER = "X-OpenStack-Ironic-API-Maximum-Version"


def negotiate(ironic_header: str | None, openstack_header: str | None) -> int:
    """The minor version a request asked for; 1.1 when it asked for none.

    :raises NotAcceptable: the version is malformed or outside what we serve.
    """
    # As Ironic: the service-neutral header, when it names baremetal, wins.
    requested = ironic_header
    if openstack_header is not None:
        service, _, value = openstack_header.strip().partition(" ")
        if service.lower() == "baremetal":
            requested = value
    if requested is None:
        return MIN_MINOR
    requested = requested.strip()
    if requested.lower() == "latest":
        return MAX_MINOR
    match = _VERSION.fullmatch(requested)
    if match is None:
        raise problems.MalformedVersion(header=HEADER, requested=requested, latest=MAX_VERSION)
    major, minor = match[1], match[2]
    # More digits than any version has are out of range (and int() refuses 4,300 digits).
    if (
        len(major) > 9
        or len(minor) > 9
        or int(major) != MAJOR
        or not MIN_MINOR <= int(minor) <= MAX_MINOR
    ):
        raise problems.VersionOutOfRange(
            requested=requested, lowest=MIN_VERSION, highest=MAX_VERSION
        )
    return int(minor)


def version_string(minor: int) -> str:
    return f"{MAJOR}.{minor}"
