"""What ports, port groups, volume connectors and targets share: each belongs to a node.

Managed volumes are listed the same way; theirs is the one owner that may be
absent (a volume no node owns), so `node_uuid` may be None.

One `Subresource` spec per resource says its table, collection path, fields and
error; the functions here find, list and show any of them with Ironic's
paging, field selection and messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Row
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors
from ironbound.api import links, listing, lookups, problems, responses
from ironbound.api import microversions as mv
from ironbound.api.deps import Call, CurrentCall
from ironbound.api.policy import Identity
from ironbound.api.schemas.common import check_uuid
from ironbound.db import any_table, nodes
from ironbound.db.models import (
    ManagedVolume,
    Node,
    Port,
    Portgroup,
    VolumeConnector,
    VolumeTarget,
)

SubresourceModel = Port | Portgroup | VolumeConnector | VolumeTarget | ManagedVolume
#: A list filter: the query parameter's value as a (column, value) the rows must have.
Filter = Callable[[Session, str], tuple[str, Any]]
#: What a sub-resource is rendered from: an ORM object, or a plain row on list pages.
SubresourceRecord = SubresourceModel | Row[Any]


@dataclass(frozen=True)
class Subresource(listing.Resource):
    model: type[SubresourceModel]
    uuid_field: str  # how errors name the path's UUID, e.g. "target_uuid"
    not_found: Callable[[str], errors.NotFound]
    #: Extra rendering (masking, redaction) applied to each document.
    finish: Callable[[SubresourceRecord, dict[str, Any], Identity], None] | None = None
    #: Field values the rows do not hold (a port's portgroup_uuid), one mapping per row.
    relate: Callable[[Session, Sequence[SubresourceRecord]], list[dict[str, Any]]] | None = None


def related(
    session: Session, spec: Subresource, rows: Sequence[SubresourceRecord]
) -> list[dict[str, Any]]:
    """What `spec.relate` finds for `rows` (nothing when the resource has no relations)."""
    return spec.relate(session, rows) if spec.relate is not None else [{} for _ in rows]


def render(
    spec: Subresource,
    row: SubresourceRecord,
    node_uuid: str | None,
    names: tuple[str, ...],
    base_url: str,
    identity: Identity,
    relations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    relations = relations or {}
    out: dict[str, Any] = {}
    for name in names:
        if name == "links":
            out[name] = links.pair(base_url, f"{spec.collection}/{row.uuid}")
        elif name == "node_uuid":
            out[name] = node_uuid
        elif name == "ports":  # a port group's members
            out[name] = links.pair(base_url, f"{spec.collection}/{row.uuid}/ports")
        elif name in relations:
            out[name] = relations[name]
        else:
            out[name] = getattr(row, name)
    if spec.finish is not None:
        spec.finish(row, out, identity)
    return out


def get(session: Session, spec: Subresource, ident: str) -> SubresourceModel:
    """The row with UUID `ident` (400 if it is not a UUID, 404 if unknown)."""
    row = any_table.by_uuid(session, spec.model, check_uuid(ident, spec.uuid_field))
    if row is None:
        raise spec.not_found(ident)
    return row


def node_uuid_of(session: Session, row: SubresourceModel) -> str | None:
    return None if row.node_id is None else nodes.get_by_id(session, row.node_id).uuid


def node_of(session: Session, row: SubresourceModel) -> Node:
    """The node `row` belongs to: ports, groups, connectors and targets always have one."""
    assert row.node_id is not None
    return nodes.get_by_id(session, row.node_id)


def list_page(
    call: Call,
    spec: Subresource,
    *,
    node_ident: str | None = None,
    filters: Mapping[str, Filter] | None = None,
    detail_path: bool = False,
    detail_since: int | None = None,
    parent: tuple[str, str, int] | None = None,
) -> Response:
    """A list document of `spec` rows, optionally those of one node, or of another
    `parent` (its path under /v1, the column naming it, its id)."""
    services, minor, base_url, identity = call.services, call.minor, call.base_url, call.identity
    filters = filters or {}
    query = listing.list_query(
        call, spec, filters=tuple(filters), detail_since=detail_since, detail_path=detail_path
    )
    names = query.names(spec.fields, minor)
    with services.db.read() as session:
        match: list[tuple[str, Any]] = []
        prefix = None
        if parent is not None:
            prefix, column, parent_id = parent
            match.append((column, parent_id))
        if node_ident is not None:
            node = nodes.get_by_uuid(session, check_uuid_or_404(node_ident))
            prefix = f"nodes/{node.uuid}"
            match.append(("node_id", node.id))
        for name, value in query.filters.items():
            match.append(filters[name](session, value))
        marker = None
        if query.marker is not None:
            try:
                marker = get(session, spec, query.marker)
            except errors.NotFound as exc:
                raise problems.UnknownMarker(marker=query.marker, kind=spec.list_key[:-1]) from exc
        rows = any_table.page(
            session,
            spec.model,
            match=match,
            sort_key=query.sort_key,
            sort_dir=query.sort_dir,
            limit=query.limit,
            marker=marker,
        )
        uuids = nodes.uuids_by_id(session, (r.node_id for r in rows if r.node_id is not None))
        relations = related(session, spec, rows)
        items = [
            render(spec, r, uuids.get(r.node_id), names, base_url, identity, rel)
            for r, rel in zip(rows, relations, strict=True)
        ]
    return listing.page(call, spec, query, items, prefix=prefix)


def list_of(
    call: Call,
    spec: Subresource,
    filters: dict[str, Filter],
    detail: bool,
    node_ident: str | None,
) -> Response:
    """A list of `spec` rows: all (with `filters`), or those of one node (UUID or name)."""
    if node_ident is not None:
        with call.services.db.read() as session:
            node_ident = lookups.node(session, node_ident, call.minor).uuid
    return list_page(
        call,
        spec,
        node_ident=node_ident,
        filters={} if node_ident else filters,
        detail_path=detail,
        detail_since=mv.DETAIL_QUERY,
    )


#: A collection's list: the request, whether in detail, the node it is restricted to.
Lister = Callable[[Call, bool, str | None], Response]


def add_list_routes(
    router: APIRouter, collection: str, lister: Lister, *, detail_paths: bool = True
) -> None:
    """The list calls of /v1/<collection>, all and a node's, each with its /detail path.

    Without `detail_paths` (volume lists, detailed by `?detail=True`), the
    node's list takes a trailing slash instead, as the CLI asks for it. Added
    before the collection's /v1/<collection>/{ident}, which would take "detail".
    """

    def list_all(call: CurrentCall) -> Response:
        return lister(call, False, None)

    def list_detail(call: CurrentCall) -> Response:
        return lister(call, True, None)

    def of_node(node_ident: str, call: CurrentCall) -> Response:
        return lister(call, False, node_ident)

    def of_node_detail(node_ident: str, call: CurrentCall) -> Response:
        return lister(call, True, node_ident)

    name = collection.replace("/", "_")
    path, node_path = f"/v1/{collection}", f"/v1/nodes/{{node_ident}}/{collection}"
    get = ["GET"]
    router.add_api_route(path, list_all, methods=get, name=f"list_{name}")
    # The CLI's path when it filters.
    router.add_api_route(f"{path}/", list_all, methods=get, include_in_schema=False)
    if detail_paths:
        router.add_api_route(f"{path}/detail", list_detail, methods=get, name=f"{name}_detail")
    router.add_api_route(node_path, of_node, methods=get, name=f"node_{name}")
    if detail_paths:
        router.add_api_route(
            f"{node_path}/detail", of_node_detail, methods=get, name=f"node_{name}_detail"
        )
    else:
        router.add_api_route(f"{node_path}/", of_node, methods=get, include_in_schema=False)


def check_uuid_or_404(ident: str) -> str:
    """Node sub-resources are addressed by UUID only; anything else is an unknown node."""
    if not nodes.is_uuid_like(ident):
        raise errors.NodeNotFound(node=ident)
    return ident


def by_node(session: Session, value: str) -> tuple[str, Any]:
    """The `node` query filter: a node UUID or name."""
    return "node_id", nodes.get(session, value).id


def by_node_uuid(session: Session, value: str) -> tuple[str, Any]:
    return "node_id", nodes.get_by_uuid(session, check_uuid(value, "node_uuid")).id


def show(call: Call, spec: Subresource, ident: str) -> Response:
    names = listing.show_names(call, spec.fields)
    with call.services.db.read() as session:
        row = get(session, spec, ident)
        document = render(
            spec,
            row,
            node_uuid_of(session, row),
            names,
            call.base_url,
            call.identity,
            related(session, spec, [row])[0],
        )
    return responses.json(document)


def body_node(session: Session, value: Any) -> Node:
    """The node a create or update body names by UUID (400 if unknown: the body is wrong)."""
    if not isinstance(value, str) or not nodes.is_uuid_like(value):
        raise errors.InvalidUUID(field="node_uuid", value=value)
    try:
        return nodes.get_by_uuid(session, str(value))
    except errors.NodeNotFound as exc:
        raise problems.UnknownBodyNode(node=value) from exc


def unique_violation(
    session: Session, spec: Subresource, own_id: int | None, **values: Any
) -> bool:
    """Whether another row of `spec` already has these column values."""
    return any_table.clashes(session, spec.model, own_id, values)
