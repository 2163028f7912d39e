"""/v1/nodes/{ident}/bios (1.40): a node's BIOS settings.

Ironbound's bios interfaces (`no-bios`, `fake`) read and apply no settings,
so no node has any: the list is empty and every setting is Not Found, as
Ironic answers for a node whose settings were never cached.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ironbound import errors
from ironbound.api import lookups, no_query, problems, responses
from ironbound.api import microversions as mv
from ironbound.api.deps import CurrentCall
from ironbound.api.services import ApiServices

router = APIRouter(dependencies=[no_query.NONE])


def _node_uuid(services: ApiServices, ident: str, minor: int) -> str:
    if minor < mv.BIOS_INTERFACE:
        raise errors.VersionNotSupported()
    with services.db.read() as session:
        return lookups.node(session, ident, minor).uuid


@router.get("/v1/nodes/{ident}/bios")
def list_bios_settings(ident: str, call: CurrentCall) -> Response:
    _node_uuid(call.services, ident, call.minor)
    return responses.json({"bios": []})


@router.get("/v1/nodes/{ident}/bios/{setting}")
def show_bios_setting(ident: str, setting: str, call: CurrentCall) -> Response:
    node_uuid = _node_uuid(call.services, ident, call.minor)
    raise problems.BiosSettingNotFound(node=node_uuid, name=setting)
