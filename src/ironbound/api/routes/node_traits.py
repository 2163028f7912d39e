"""/v1/nodes/{ident}/traits (1.37): list, replace, add and remove a node's traits.

Traits are not changed through a node PATCH (routes/nodes refuses /traits);
they change here, under the same wait for a busy node as other node changes.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors
from ironbound.api import locking, no_query, problems, responses
from ironbound.api import microversions as mv
from ironbound.api.deps import BaseUrl, OptionalJsonBody, Services, Version
from ironbound.api.routes.nodes import lookup
from ironbound.api.schemas.traits import MAX_TRAITS_PER_NODE, check_trait, traits_body
from ironbound.api.services import ApiServices
from ironbound.db import traits
from ironbound.db.models import Node

router = APIRouter(dependencies=[no_query.NONE])


def _need_traits(minor: int) -> None:
    if minor < mv.NODE_TRAITS:
        raise errors.VersionNotSupported()


def _change(
    services: ApiServices, ident: str, minor: int, change: Callable[[Session, Node], None]
) -> None:
    locking.with_free_node(services, lambda s: lookup(s, ident, minor), change)


def _check_count(node: Node, wanted: set[str]) -> None:
    if len(wanted) > MAX_TRAITS_PER_NODE:
        raise problems.TooManyTraits(node=node.uuid, count=len(wanted), limit=MAX_TRAITS_PER_NODE)


@router.get("/v1/nodes/{ident}/traits")
def list_traits(ident: str, services: Services, minor: Version) -> Response:
    _need_traits(minor)
    with services.db.read() as session:
        node = lookup(session, ident, minor)
        return responses.json({"traits": traits.names(session, node.id)})


@router.put("/v1/nodes/{ident}/traits", status_code=204)
def replace_traits(
    ident: str, body: OptionalJsonBody, services: Services, minor: Version
) -> Response:
    _need_traits(minor)
    wanted = set(traits_body(body))

    def change(session: Session, node: Node) -> None:
        _check_count(node, wanted)
        traits.replace(session, node.id, wanted)

    _change(services, ident, minor, change)
    return Response(status_code=204)


@router.put("/v1/nodes/{ident}/traits/{trait}", status_code=204)
def add_trait(
    ident: str,
    trait: str,
    body: OptionalJsonBody,
    services: Services,
    minor: Version,
    base_url: BaseUrl,
) -> Response:
    _need_traits(minor)
    if body:
        raise problems.TraitBodyGiven()
    check_trait(trait)

    def change(session: Session, node: Node) -> None:
        present = traits.names(session, node.id)
        if trait not in present:
            _check_count(node, {*present, trait})
            traits.add(session, node.id, trait)

    _change(services, ident, minor, change)
    response = Response(status_code=204)
    response.headers["Location"] = f"{base_url}/v1/nodes/{ident}/traits/{trait}"
    return response


@router.delete("/v1/nodes/{ident}/traits", status_code=204)
def remove_all_traits(ident: str, services: Services, minor: Version) -> Response:
    _need_traits(minor)
    _change(services, ident, minor, lambda session, node: traits.replace(session, node.id, ()))
    return Response(status_code=204)


@router.delete("/v1/nodes/{ident}/traits/{trait}", status_code=204)
def remove_trait(ident: str, trait: str, services: Services, minor: Version) -> Response:
    _need_traits(minor)

    def change(session: Session, node: Node) -> None:
        if not traits.remove(session, node.id, trait):
            raise problems.TraitNotFound(node=node.uuid, trait=trait)

    _change(services, ident, minor, change)
    return Response(status_code=204)
