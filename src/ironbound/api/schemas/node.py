"""The writable part of a node, as created or after a PATCH."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ironbound import errors
from ironbound.api import listing
from ironbound.api.schemas.common import JsonObject, StrictModel, UUIDStr


def _flag(value: Any) -> Any:
    """A boolean, or one spelt as text: the `baremetal` CLI sends `--protected` as "True",
    and Ironic reads these fields with its lenient boolean."""
    if isinstance(value, str):
        try:
            return listing.parse_bool("flag", value)
        except errors.InvalidParameterValue:
            raise ValueError("Input should be a valid boolean") from None
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]


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
    bios_interface: str | None = Field(default=None, max_length=255)
    automated_clean: Flag | None = None
    #: Only through a PATCH, and only on a deployed node (see routes/nodes).
    protected: Flag = False
    protected_reason: str | None = Field(default=None, max_length=4096)
    owner: str | None = Field(default=None, max_length=255)
    #: Ironic's bound on a description.
    description: str | None = Field(default=None, max_length=4096)
