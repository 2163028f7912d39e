"""Version discovery: GET / and GET /v1 (no credentials needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from ironbound.api import links, no_query, responses
from ironbound.api import microversions as mv
from ironbound.api.deps import CurrentCall

router = APIRouter()


def _version(base_url: str) -> dict[str, Any]:
    return {
        "id": "v1",
        "links": [{"href": f"{base_url}/v1/", "rel": "self"}],
        "status": "CURRENT",
        "min_version": mv.MIN_VERSION,
        "version": mv.MAX_VERSION,
    }


@router.get("/", dependencies=[no_query.NONE])
def root(call: CurrentCall) -> Response:
    version = _version(call.base_url)
    return responses.json(
        {
            "name": "Ironbound",
            "description": "Bare-metal provisioning with boot from volume, speaking "
            "OpenStack Ironic's v1 API.",
            "default_version": version,
            "versions": [version],
        }
    )


@router.get("/v1", dependencies=[no_query.NONE])
@router.get("/v1/", dependencies=[no_query.NONE])
def v1(call: CurrentCall) -> Response:
    body: dict[str, Any] = {
        "id": "v1",
        "links": [
            {"href": f"{call.base_url}/v1/", "rel": "self"},
            {
                "href": "https://docs.openstack.org/ironic/latest/contributor/webapi.html",
                "rel": "describedby",
                "type": "text/html",
            },
        ],
        "media_types": [
            {"base": "application/json", "type": "application/vnd.openstack.ironic.v1+json"}
        ],
        "version": _version(call.base_url),
        "nodes": links.pair(call.base_url, "nodes"),
        "ports": links.pair(call.base_url, "ports"),
        "drivers": links.pair(call.base_url, "drivers"),
    }
    if call.minor >= mv.PORTGROUP_API:
        body["portgroups"] = links.pair(call.base_url, "portgroups")
    if call.minor >= mv.VOLUME:
        body["volume"] = links.pair(call.base_url, "volume")
    if call.minor >= mv.EVENTS:
        body["events"] = links.pair(call.base_url, "events")
    return responses.json(body)
