"""/v1/nodes/{node}/vifs (1.28): the VIFs Nova plugs into a node before deploying it.

Ironic runs an attach through the node's network interface; with `noop`, the
only one served, that is the record in a port's (or port group's)
internal_info, written here synchronously under the node's lock.
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from starlette.responses import Response

from ironbound.api import lookups, problems, responses, writes
from ironbound.api import microversions as mv
from ironbound.api.deps import CurrentCall, JsonBody
from ironbound.api.schemas.common import StrictModel, validate
from ironbound.db import vifs

router = APIRouter()

#: URL-safe, so that the DELETE path can name it: Neutron port UUIDs and names fit.
_VIF_ID = re.compile(r"[A-Za-z0-9._~-]{1,255}")


class VifDocument(StrictModel):
    id: str


def _need_vifs(minor: int) -> None:
    if minor < mv.VIFS:
        raise problems.ResourceNotFound()


def _checked(vif_id: str) -> str:
    if not _VIF_ID.fullmatch(vif_id):
        raise problems.InvalidVifId(value=vif_id)
    return vif_id


@router.get("/v1/nodes/{node_ident}/vifs")
def list_vifs(node_ident: str, call: CurrentCall) -> Response:
    _need_vifs(call.minor)
    with call.services.db.read() as session:
        node = lookups.node(session, node_ident, call.minor)
        found = vifs.attached(session, node.id)
    return responses.json({"vifs": [{"id": vif} for vif in found]})


@router.post("/v1/nodes/{node_ident}/vifs", status_code=204)
def attach_vif(node_ident: str, body: JsonBody, call: CurrentCall) -> Response:
    _need_vifs(call.minor)
    doc: VifDocument = validate(VifDocument, body, "VIF")
    vif_id = _checked(doc.id)
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.hold(session, lookups.node(session, node_ident, call.minor))
            vifs.attach(session, node.id, vif_id)
    return Response(status_code=204)


@router.delete("/v1/nodes/{node_ident}/vifs/{vif_id}", status_code=204)
def detach_vif(node_ident: str, vif_id: str, call: CurrentCall) -> Response:
    _need_vifs(call.minor)
    _checked(vif_id)
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.hold(session, lookups.node(session, node_ident, call.minor))
            vifs.detach(session, node.id, node.uuid, vif_id)
    return Response(status_code=204)
