"""/v1/nodes/{node}/vifs (1.28): the VIFs Nova plugs into a node before deploying it.

Ironic runs an attach through the node's network interface; with `noop`, the
only one served, that is the record in a port's (or port group's)
internal_info, written here synchronously under the node's lock.
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound.api import locking, problems, responses
from ironbound.api import microversions as mv
from ironbound.api.deps import JsonBody, Services, Version
from ironbound.api.routes.nodes import lookup
from ironbound.api.schemas.common import StrictModel, validate
from ironbound.db import vifs
from ironbound.db.models import Node

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
def list_vifs(node_ident: str, services: Services, minor: Version) -> Response:
    _need_vifs(minor)
    with services.db.read() as session:
        node = lookup(session, node_ident, minor)
        found = vifs.attached(session, node.id)
    return responses.json({"vifs": [{"id": vif} for vif in found]})


@router.post("/v1/nodes/{node_ident}/vifs", status_code=204)
def attach_vif(node_ident: str, body: JsonBody, services: Services, minor: Version) -> Response:
    _need_vifs(minor)
    doc: VifDocument = validate(VifDocument, body, "VIF")
    vif_id = _checked(doc.id)

    def change(session: Session, node: Node) -> None:
        vifs.attach(session, node.id, vif_id)

    locking.with_free_node(services, lambda s: lookup(s, node_ident, minor), change)
    return Response(status_code=204)


@router.delete("/v1/nodes/{node_ident}/vifs/{vif_id}", status_code=204)
def detach_vif(node_ident: str, vif_id: str, services: Services, minor: Version) -> Response:
    _need_vifs(minor)
    _checked(vif_id)

    def change(session: Session, node: Node) -> None:
        vifs.detach(session, node.id, node.uuid, vif_id)

    locking.with_free_node(services, lambda s: lookup(s, node_ident, minor), change)
    return Response(status_code=204)
