"""/v1/conductors (1.49): the conductors registered, live or not, and what they offer.

A conductor is known by its hostname, which is also the paging marker. The
list shows hostname, conductor group and liveness; the detail adds the
hardware types it offers and when it registered and last heartbeat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Row
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors
from ironbound.api import links, listing, problems, responses
from ironbound.api import microversions as mv
from ironbound.api.deps import Call, CurrentCall
from ironbound.db import conductors
from ironbound.db.models import Conductor

router = APIRouter()

CONDUCTORS = listing.Resource(
    "conductors",
    "conductors",
    listing.FieldTable(
        {
            name: mv.CONDUCTORS
            for name in (
                "hostname",
                "conductor_group",
                "alive",
                "drivers",
                "created_at",
                "updated_at",
                "links",
            )
        },
        ("hostname", "conductor_group", "alive", "links"),
    ),
    # As Ironic: every field but alive and drivers, which are not columns.
    sortable=frozenset({"id", "hostname", "conductor_group", "created_at", "updated_at"}),
)

#: Sort keys whose column has another name here.
_COLUMNS = {"updated_at": "heartbeat_at"}


def _check_version(call: Call) -> None:
    """Before 1.49 there are no conductors to see (Ironic's 404)."""
    if call.minor < mv.CONDUCTORS:
        raise errors.VersionNotSupported()


def _render(
    row: Conductor | Row[Any],
    names: Sequence[str],
    drivers: Mapping[int, list[str]],
    timeout: float,
    base_url: str,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "hostname": row.hostname,
        "conductor_group": row.conductor_group,
        "alive": conductors.is_alive(row.online, row.heartbeat_at, timeout),
        "drivers": drivers.get(row.id, []),
        "created_at": row.created_at,
        "updated_at": row.heartbeat_at,
        "links": links.pair(base_url, f"conductors/{row.hostname}"),
    }
    return {name: values[name] for name in names}


def _marker(session: Session, hostname: str | None) -> Conductor | None:
    if hostname is None:
        return None
    found = conductors.by_hostname(session, hostname)
    if found is None:
        raise problems.UnknownMarker(marker=hostname, kind="conductor")
    return found


@router.get("/v1/conductors")
@router.get("/v1/conductors/", include_in_schema=False)  # the CLI's path when it filters
def list_conductors(call: CurrentCall) -> Response:
    _check_version(call)
    query = listing.list_query(call, CONDUCTORS, detail_since=mv.CONDUCTORS)
    names = query.names(CONDUCTORS.fields, call.minor)
    timeout = call.services.conf.conductor.heartbeat_timeout
    with call.services.db.read() as session:
        rows = conductors.page(
            session,
            sort_key=_COLUMNS.get(query.sort_key, query.sort_key),
            sort_dir=query.sort_dir,
            limit=query.limit,
            marker=_marker(session, query.marker),
        )
        drivers = (
            conductors.hardware_types(session, [r.id for r in rows]) if "drivers" in names else {}
        )
    items = [_render(r, names, drivers, timeout, call.base_url) for r in rows]
    last = rows[-1].hostname if rows else None
    return listing.page(call, CONDUCTORS, query, items, marker=last)


@router.get("/v1/conductors/{hostname}")
def show_conductor(hostname: str, call: CurrentCall) -> Response:
    _check_version(call)
    names = listing.show_names(call, CONDUCTORS.fields)
    with call.services.db.read() as session:
        row = conductors.by_hostname(session, hostname)
        if row is None:
            raise problems.ConductorNotFound(conductor=hostname)
        drivers = conductors.hardware_types(session, [row.id])
        timeout = call.services.conf.conductor.heartbeat_timeout
        return responses.json(_render(row, names, drivers, timeout, call.base_url))
