"""Port groups: a node's bonded NICs."""

from __future__ import annotations

from pydantic import Field

from ironbound.api.schemas.common import JsonObject, StrictModel, UUIDStr

#: What a port group without a mode gets (Ironic's default_portgroup_mode).
DEFAULT_MODE = "active-backup"


class PortgroupDocument(StrictModel):
    uuid: UUIDStr | None = None
    name: str | None = None
    address: str | None = None
    node_uuid: str
    standalone_ports_supported: bool = True
    extra: JsonObject = Field(default_factory=dict)
    mode: str | None = Field(default=None, max_length=255)
    properties: JsonObject = Field(default_factory=dict)
