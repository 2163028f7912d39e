"""What a flow, a driver and the boot server see of a node: plain frozen records.

These sit below every room (db, drivers, conductor, boot server) because all
of them pass them around: the database builds them (`db/snapshots.py`), the
conductor hands them to drivers, `sanplan` and the boot server read them.
Secrets in their mappings are `Secret` objects, never plain strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oslo_utils import strutils

from ironbound.sensitive import Secret


def parse_capabilities(value: Any) -> dict[str, str]:
    """Ironic's ``key:value,key:value`` capabilities string (or a dict) as a dict."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if not isinstance(value, str) or not value.strip():
        return {}
    result: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition(":")
        if sep and key.strip():
            result[key.strip()] = val.strip()
    return result


def is_true(value: Any) -> bool:
    """Ironic's idea of a true string: true/yes/on/1/y/t, any case; anything else is false.

    Every boolean Ironbound reads from text goes through oslo.utils'
    `bool_from_string`, as Ironic's do, so every place agrees on the words.
    """
    return bool(strutils.bool_from_string(value))


#: driver_internal_info key where a storage interface records the attachments it
#: made (target uuid -> what it needs to undo them); a node that has it must be
#: detached before it is deleted.
VOLUME_ATTACHMENTS = "volume_attachments"
#: driver_internal_info key: the config drive target Ironbound exported for a node whose
#: volumes it does not serve; like an attachment, it is ended before the node is deleted.
CONFIG_DRIVE_TARGET = "config_drive_target"


@dataclass(frozen=True)
class NodeInfo:
    """The node as a driver sees it; secrets in driver_info are `Secret`s."""

    id: int
    uuid: str
    name: str | None
    driver: str
    driver_info: Mapping[str, Any]
    driver_internal_info: Mapping[str, Any]
    instance_info: Mapping[str, Any]
    properties: Mapping[str, Any]
    provision_state: str
    target_provision_state: str | None
    power_state: str | None
    maintenance: bool
    interfaces: Mapping[str, str]
    #: The instance the node runs for (Nova's server), if one is associated.
    instance_uuid: str | None = None
    last_error: str | None = None

    @property
    def capabilities(self) -> dict[str, str]:
        return parse_capabilities(self.properties.get("capabilities"))


@dataclass(frozen=True)
class PortInfo:
    uuid: str
    address: str
    pxe_enabled: bool
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectorInfo:
    uuid: str
    type: str
    connector_id: str


@dataclass(frozen=True)
class TargetInfo:
    """A volume target; secrets in properties are `Secret`s."""

    uuid: str
    volume_type: str
    boot_index: int
    volume_id: str
    properties: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IscsiLun:
    """A LUN the conductor's host logs in to itself (to write an image onto it)."""

    portal: str  #: host:port (IPv6 hosts in brackets), as the node would use it
    iqn: str
    lun: int
    #: The node's initiator name: the target may admit only it.
    initiator_iqn: str
    username: str | None = None
    password: Secret | None = None


@dataclass(frozen=True)
class ImageDestination:
    """Where a deploy writes the node's image: the boot volume, reached one of two ways.

    `path` is a file or block device on the conductor's host (a volume Ironbound
    stores itself); `iscsi` is a LUN reached over the network (someone else's SAN).
    """

    #: What the volume is, for progress lines and last_error (no secrets).
    description: str
    path: str | None = None
    iscsi: IscsiLun | None = None
    #: The volume's size: an image whose virtual size is larger is refused.
    size_bytes: int | None = None
    #: The checksum of the image the volume already holds (a kept volume), if known.
    current_image: str | None = None
    #: The volume was just created and holds only zeroes (the write can skip them).
    blank: bool = False


#: States of a managed volume: exported to its node(s); kept for its node between
#: deploys; belonging to no node.
VOLUME_ATTACHED = "attached"
VOLUME_KEPT = "kept"
VOLUME_AVAILABLE = "available"


@dataclass(frozen=True)
class ManagedVolume:
    """A boot volume Ironbound stores and exports itself (the `managed` storage interface).

    `node_uuid` is the node the volume belongs to (created for, or kept for);
    `initiators` are the nodes it is exported to now, each with the initiator
    IQN the export admits (more than one only when it is `shareable`).
    """

    uuid: str
    state: str
    size_bytes: int
    path: str
    target_iqn: str
    lun: int
    node_uuid: str | None = None
    shareable: bool = False
    #: The checksum of the image written on it; None while unknown or half-written.
    image: str | None = None
    initiators: Mapping[str, str] = field(default_factory=dict)
    auth_username: str | None = None
    auth_password: Secret | None = None
    reverse_auth_username: str | None = None
    reverse_auth_password: Secret | None = None


@dataclass(frozen=True)
class NodeSnapshot:
    """A node with its ports, volume connectors and volume targets, read in one transaction."""

    node: NodeInfo
    ports: Sequence[PortInfo]
    volume_connectors: Sequence[ConnectorInfo]
    volume_targets: Sequence[TargetInfo]


def secret_value(value: Any) -> str:
    """The clear text of a driver_info or property value that may be a `Secret`."""
    return value.reveal() if isinstance(value, Secret) else str(value)
