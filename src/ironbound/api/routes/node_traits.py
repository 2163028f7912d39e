"""/v1/nodes/{ident}/traits (1.37): list, replace, add and remove a node's traits.

Traits are not changed through a node PATCH (routes/nodes refuses /traits);
they change here, under the same wait for a busy node as other node changes.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ironbound import errors
from ironbound.api import lookups, no_query, problems, responses, writes
from ironbound.api import microversions as mv
from ironbound.api.deps import CurrentCall, OptionalJsonBody
from ironbound.api.schemas.traits import MAX_TRAITS_PER_NODE, check_trait, traits_body
from ironbound.db import traits
from ironbound.db.models import Node

router = APIRouter(dependencies=[no_query.NONE])


def _need_traits(minor: int) -> None:
    if minor < mv.NODE_TRAITS:
        raise errors.VersionNotSupported()


def _check_count(node: Node, wanted: set[str]) -> None:
    if len(wanted) > MAX_TRAITS_PER_NODE:
        raise problems.TooManyTraits(node=node.uuid, count=len(wanted), limit=MAX_TRAITS_PER_NODE)


@router.get("/v1/nodes/{ident}/traits")
def list_traits(ident: str, call: CurrentCall) -> Response:
    _need_traits(call.minor)
    with call.services.db.read() as session:
        node = lookups.node(session, ident, call.minor)
        return responses.json({"traits": traits.names(session, node.id)})


@router.put("/v1/nodes/{ident}/traits", status_code=204)
def replace_traits(ident: str, body: OptionalJsonBody, call: CurrentCall) -> Response:
    _need_traits(call.minor)
    wanted = set(traits_body(body))
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.hold(session, lookups.node(session, ident, call.minor))
            _check_count(node, wanted)
            traits.replace(session, node.id, wanted)
    return Response(status_code=204)


@router.put("/v1/nodes/{ident}/traits/{trait}", status_code=204)
def add_trait(ident: str, trait: str, body: OptionalJsonBody, call: CurrentCall) -> Response:
    _need_traits(call.minor)
    if body:
        raise problems.TraitBodyGiven()
    check_trait(trait)
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.hold(session, lookups.node(session, ident, call.minor))
            present = traits.names(session, node.id)
            if trait not in present:
                _check_count(node, {*present, trait})
                traits.add(session, node.id, trait)
    response = Response(status_code=204)
    response.headers["Location"] = f"{call.base_url}/v1/nodes/{ident}/traits/{trait}"
    return response


@router.delete("/v1/nodes/{ident}/traits", status_code=204)
def remove_all_traits(ident: str, call: CurrentCall) -> Response:
    _need_traits(call.minor)
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.hold(session, lookups.node(session, ident, call.minor))
            traits.replace(session, node.id, ())
    return Response(status_code=204)


@router.delete("/v1/nodes/{ident}/traits/{trait}", status_code=204)
def remove_trait(ident: str, trait: str, call: CurrentCall) -> Response:
    _need_traits(call.minor)
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.hold(session, lookups.node(session, ident, call.minor))
            if not traits.remove(session, node.id, trait):
                raise problems.TraitNotFound(node=node.uuid, trait=trait)
    return Response(status_code=204)
