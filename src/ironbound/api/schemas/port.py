"""Ports: a node's NICs, known by MAC address."""

from __future__ import annotations

from pydantic import Field

from ironbound.api.schemas.common import JsonObject, StrictModel, UUIDStr


class PortDocument(StrictModel):
    uuid: UUIDStr | None = None
    address: str
    node_uuid: str
    extra: JsonObject = Field(default_factory=dict)
    local_link_connection: JsonObject = Field(default_factory=dict)
    pxe_enabled: bool = True
    portgroup_uuid: UUIDStr | None = None
    physical_network: str | None = Field(default=None, max_length=64)
    is_smartnic: bool = False
