"""The writable part of a node, as created or after a PATCH."""

from __future__ import annotations

from pydantic import Field

from ironbound.api.schemas.common import JsonObject, StrictModel, UUIDStr


class NodeDocument(StrictModel):
    uuid: UUIDStr | None = None
    name: str | None = Field(default=None, max_length=255)
    driver: str = Field(min_length=1, max_length=255)
    driver_info: JsonObject = Field(default_factory=dict)
    extra: JsonObject = Field(default_factory=dict)
    instance_info: JsonObject = Field(default_factory=dict)
    instance_uuid: UUIDStr | None = None
    properties: JsonObject = Field(default_factory=dict)
    resource_class: str | None = Field(default=None, max_length=80)
    conductor_group: str | None = None  # checked by driver_checks.conductor_group
    chassis_uuid: None = None
    maintenance: bool = False
    maintenance_reason: str | None = Field(default=None, max_length=4096)
    boot_interface: str | None = Field(default=None, max_length=255)
    console_interface: str | None = Field(default=None, max_length=255)
    deploy_interface: str | None = Field(default=None, max_length=255)
    inspect_interface: str | None = Field(default=None, max_length=255)
    management_interface: str | None = Field(default=None, max_length=255)
    network_interface: str | None = Field(default=None, max_length=255)
    power_interface: str | None = Field(default=None, max_length=255)
    raid_interface: str | None = Field(default=None, max_length=255)
    rescue_interface: str | None = Field(default=None, max_length=255)
    storage_interface: str | None = Field(default=None, max_length=255)
    vendor_interface: str | None = Field(default=None, max_length=255)
