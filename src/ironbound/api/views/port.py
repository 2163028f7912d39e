"""A port as Ironic's API shows it: fields per microversion, and its port group's UUID.

Ports are shown under /v1/ports and as a port group's members (/v1/portgroups/<g>/ports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from ironbound import errors
from ironbound.api import listing, subresources
from ironbound.api import microversions as mv
from ironbound.db import portgroups
from ironbound.db.models import Port


def _relate(
    session: Session, rows: Sequence[subresources.SubresourceRecord]
) -> list[dict[str, Any]]:
    """Each port's portgroup_uuid, from its group's id."""
    ids = [getattr(r, "portgroup_id", None) for r in rows]
    uuids = portgroups.uuids_by_id(session, ids)
    return [{"portgroup_uuid": uuids.get(i) if i is not None else None} for i in ids]


PORTS = subresources.Subresource(
    model=Port,
    collection="ports",
    list_key="ports",
    fields=listing.FieldTable(
        {
            "uuid": 1,
            "address": 1,
            "node_uuid": 1,
            "extra": 1,
            "internal_info": mv.PORT_INTERNAL_INFO,
            "local_link_connection": mv.PORT_LOCAL_LINK,
            "pxe_enabled": mv.PORT_LOCAL_LINK,
            "portgroup_uuid": mv.PORTGROUPS,
            "physical_network": mv.PORT_PHYSICAL_NETWORK,
            "is_smartnic": mv.PORT_SMARTNIC,
            "created_at": 1,
            "updated_at": 1,
            "links": 1,
        },
        ("uuid", "address", "links"),
    ),
    sortable=frozenset(
        {"id", "uuid", "address", "created_at", "updated_at", "pxe_enabled", "is_smartnic"}
    ),
    uuid_field="port_uuid",
    not_found=lambda ident: errors.PortNotFound(port=ident),
    relate=_relate,
)
