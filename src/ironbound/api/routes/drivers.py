"""/v1/drivers: the hardware types live conductors offer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from ironbound import errors
from ironbound.api import driver_checks, links, listing, no_query, problems, responses
from ironbound.api import microversions as mv
from ironbound.api.deps import CurrentCall
from ironbound.db.conductors import HardwareEntry

router = APIRouter()

#: When each interface appears in a driver's detail: all of them with the
#: dynamic drivers (1.30), storage with the storage interface (1.33), rescue
#: with rescue (1.38), bios with the bios interface (1.40), as in Ironic; node
#: documents show some of them only from 1.31.
_DETAIL_SINCE: dict[str, int] = {
    **{iface: mv.DYNAMIC_DRIVERS for iface in driver_checks.INTERFACE_VERSIONS},
    "storage": mv.STORAGE_INTERFACE,
    "rescue": mv.RESCUE,
    "bios": mv.BIOS_INTERFACE,
}


def _document(
    name: str, entry: HardwareEntry, minor: int, base_url: str, detail: bool
) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "hosts": list(entry.hosts)}
    if minor >= mv.DYNAMIC_DRIVERS:
        doc["type"] = "dynamic"
        if detail:
            for iface, since in _DETAIL_SINCE.items():
                if since <= minor:
                    doc[f"default_{iface}_interface"] = entry.defaults.get(iface)
                    doc[f"enabled_{iface}_interfaces"] = list(entry.enabled.get(iface, []))
    doc["links"] = links.pair(base_url, f"drivers/{name}")
    doc["properties"] = links.pair(base_url, f"drivers/{name}/properties")
    return doc


@router.get("/v1/drivers")
def list_drivers(call: CurrentCall) -> Response:
    allowed = ("type", "detail") if call.minor >= mv.DYNAMIC_DRIVERS else ()
    listing.reject_unknown(call.request.query_params.keys(), allowed)
    kind = call.request.query_params.get("type")
    if kind not in (None, "classic", "dynamic"):
        raise problems.InvalidDriverType(kind=kind)
    detail = (
        listing.parse_bool("detail", call.request.query_params["detail"])
        if "detail" in call.request.query_params
        else False
    )
    catalogue = {} if kind == "classic" else call.services.catalogue()
    drivers = [
        _document(n, e, call.minor, call.base_url, detail) for n, e in sorted(catalogue.items())
    ]
    return responses.json({"drivers": drivers})


def _entry(services: Any, name: str) -> HardwareEntry:
    entry: HardwareEntry | None = services.catalogue().get(name)
    if entry is None:
        raise errors.DriverNotFound(driver=name)
    return entry


@router.get("/v1/drivers/{name}", dependencies=[no_query.NONE])
def show_driver(name: str, call: CurrentCall) -> Response:
    return responses.json(
        _document(name, _entry(call.services, name), call.minor, call.base_url, detail=True)
    )


@router.get("/v1/drivers/{name}/properties", dependencies=[no_query.NONE])
def driver_properties(name: str, call: CurrentCall) -> Response:
    return responses.json(_entry(call.services, name).properties)
