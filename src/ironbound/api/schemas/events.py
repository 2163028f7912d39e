"""The body of POST /v1/events (1.54): Neutron's network events, as Ironic checks them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from ironbound.api.schemas.common import StrictModel, UUIDStr
from ironbound.api.schemas.volume import normalize_mac


def _mac(value: str) -> str:
    mac = normalize_mac(value)
    if mac is None:
        raise ValueError(f"'{value}' is not a MAC address")
    return mac


class NetworkEvent(StrictModel):
    """One port event; Ironic's schema: four members required, no others."""

    event: Literal["network.bind_port", "network.unbind_port", "network.delete_port"]
    port_id: UUIDStr
    mac_address: Annotated[str, AfterValidator(_mac)]
    status: str
    device_id: UUIDStr | None = None
    # Ironic holds these to be UUIDs too (networking-baremetal sends the node's).
    binding_host_id: UUIDStr | None = Field(default=None, alias="binding:host_id")
    binding_vnic_type: str | None = Field(default=None, alias="binding:vnic_type")


class EventsDocument(StrictModel):
    events: list[NetworkEvent] = Field(min_length=1)
