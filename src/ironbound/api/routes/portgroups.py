"""/v1/portgroups (1.23): a node's bonded NICs, and the ports that belong to each.

A VIF may be attached to a port group instead of a port (see routes/vifs.py).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors
from ironbound.api import listing, patch, problems, responses, subresources, writes
from ironbound.api import microversions as mv
from ironbound.api.deps import Call, CurrentCall, JsonBody
from ironbound.api.schemas.common import check_node_name, validate
from ironbound.api.schemas.portgroup import DEFAULT_MODE, PortgroupDocument
from ironbound.api.schemas.volume import normalize_mac
from ironbound.api.views.port import PORTS
from ironbound.db import any_table, nodes, portgroups
from ironbound.db.models import Node, Portgroup

router = APIRouter()

PORTGROUPS = subresources.Subresource(
    model=Portgroup,
    collection="portgroups",
    list_key="portgroups",
    fields=listing.FieldTable(
        {
            "uuid": mv.PORTGROUP_API,
            "name": mv.PORTGROUP_API,
            "address": mv.PORTGROUP_API,
            "node_uuid": mv.PORTGROUP_API,
            "standalone_ports_supported": mv.PORTGROUP_API,
            "extra": mv.PORTGROUP_API,
            "internal_info": mv.PORTGROUP_API,
            "mode": mv.PORTGROUP_MODE,
            "properties": mv.PORTGROUP_MODE,
            "created_at": mv.PORTGROUP_API,
            "updated_at": mv.PORTGROUP_API,
            "links": mv.PORTGROUP_API,
            "ports": mv.PORTGROUPS,
        },
        ("uuid", "address", "name", "links"),
    ),
    sortable=frozenset(
        {"id", "uuid", "name", "address", "created_at", "updated_at", "mode"}
        | {"standalone_ports_supported"}
    ),
    uuid_field="portgroup_uuid",
    not_found=lambda ident: errors.PortgroupNotFound(portgroup=ident),
)

#: Fields a create or PATCH may set (internal_info is the conductor's).
_WRITABLE = (
    "name",
    "address",
    "node_uuid",
    "standalone_ports_supported",
    "extra",
    "mode",
    "properties",
)


def _need_portgroups(minor: int, since: int = mv.PORTGROUP_API) -> None:
    """Ironic answers 404 for port group paths older microversions do not have."""
    if minor < since:
        raise problems.ResourceNotFound()


def _mac(value: str) -> str:
    mac = normalize_mac(value)
    if mac is None:
        raise problems.NotAMacAddress(value=value)
    return mac


def _by_address(session: Session, value: str) -> tuple[str, Any]:
    return "address", _mac(value)


_FILTERS: dict[str, subresources.Filter] = {"node": subresources.by_node, "address": _by_address}


def get(session: Session, ident: str, minor: int) -> Portgroup:
    """A port group by UUID or by name."""
    if nodes.is_uuid_like(ident):
        row = subresources.get(session, PORTGROUPS, ident)
        assert isinstance(row, Portgroup)
        return row
    found = portgroups.by_name(session, ident)
    if found is None:
        raise errors.PortgroupNotFound(portgroup=ident)
    return found


def _list(call: Call, detail: bool, node_ident: str | None) -> Response:
    _need_portgroups(call.minor, mv.PORTGROUPS if node_ident is not None else mv.PORTGROUP_API)
    return subresources.list_of(call, PORTGROUPS, _FILTERS, detail, node_ident)


subresources.add_list_routes(router, "portgroups", _list)


def _member_ports(call: CurrentCall, ident: str, detail: bool) -> Response:
    _need_portgroups(call.minor, mv.PORTGROUPS)
    with call.services.db.read() as session:
        group = get(session, ident, call.minor)
        parent = (f"portgroups/{group.uuid}", "portgroup_id", group.id)
    return subresources.list_page(
        call, PORTS, detail_path=detail, detail_since=mv.DETAIL_QUERY, parent=parent
    )


@router.get("/v1/portgroups/{ident}/ports")
def portgroup_ports(ident: str, call: CurrentCall) -> Response:
    return _member_ports(call, ident, detail=False)


@router.get("/v1/portgroups/{ident}/ports/detail")
def portgroup_ports_detail(ident: str, call: CurrentCall) -> Response:
    return _member_ports(call, ident, detail=True)


@router.get("/v1/portgroups/{ident}")
def show_portgroup(ident: str, call: CurrentCall) -> Response:
    _need_portgroups(call.minor)
    names = listing.show_names(call, PORTGROUPS.fields)
    with call.services.db.read() as session:
        row = get(session, ident, call.minor)
        node_uuid = subresources.node_uuid_of(session, row)
        document = subresources.render(
            PORTGROUPS, row, node_uuid, names, call.base_url, call.identity
        )
    return responses.json(document)


#: A port group document and its normalised MAC.
_Parsed = tuple[PortgroupDocument, str | None]


def _parsed(body: Any, minor: int, names: Sequence[str]) -> _Parsed:
    """The document and its normalised MAC: the checks that need no database."""
    if isinstance(body, dict):
        listing.reject_newer(sorted(body), PORTGROUPS.fields.since, minor)
        unknown = sorted(set(body) - {"uuid", *names})
        if unknown:
            raise problems.NotSettableOnCreate(unknown=unknown, allowed=sorted(names))
    doc: PortgroupDocument = validate(PortgroupDocument, body, "portgroup")
    if doc.name is not None:
        try:
            check_node_name(doc.name, minor)
        except errors.InvalidParameterValue as exc:
            raise problems.InvalidPortgroupName(name=doc.name) from exc
    return doc, _mac(doc.address) if doc.address is not None else None


def _placed(session: Session, doc: PortgroupDocument, mac: str | None, own: int | None) -> Node:
    """The group's node, once its name and MAC are known to be free."""
    node = subresources.body_node(session, doc.node_uuid)
    if mac is not None and subresources.unique_violation(session, PORTGROUPS, own, address=mac):
        raise errors.PortgroupMACAlreadyExists(mac=mac)
    if doc.name is not None and subresources.unique_violation(
        session, PORTGROUPS, own, name=doc.name
    ):
        raise errors.PortgroupDuplicateName(name=doc.name)
    return node


def _writable(minor: int) -> list[str]:
    return [f for f in _WRITABLE if PORTGROUPS.fields.since[f] <= minor]


@router.post("/v1/portgroups", status_code=201)
def create_portgroup(body: JsonBody, call: CurrentCall) -> Response:
    _need_portgroups(call.minor)
    doc, mac = _parsed(body, call.minor, _writable(call.minor))
    with call.services.db.write() as session:
        node = _placed(session, doc, mac, None)
        group_uuid = doc.uuid or str(uuidlib.uuid4())
        if subresources.unique_violation(session, PORTGROUPS, None, uuid=group_uuid):
            raise errors.PortgroupAlreadyExists(uuid=group_uuid)
        row = Portgroup(
            uuid=group_uuid,
            name=doc.name,
            address=mac,
            node_id=node.id,
            standalone_ports_supported=doc.standalone_ports_supported,
            extra=doc.extra,
            internal_info={},
            mode=doc.mode or DEFAULT_MODE,
            properties=doc.properties,
        )
        any_table.add(session, row)
        names = PORTGROUPS.fields.detail(call.minor)
        document = subresources.render(
            PORTGROUPS, row, node.uuid, names, call.base_url, call.identity
        )
    location = f"{call.base_url}/v1/portgroups/{row.uuid}"
    return responses.json(document, status=201, location=location)


def _store(
    session: Session,
    row: Portgroup,
    parsed: tuple[PortgroupDocument, str | None],
    updatable: list[str],
) -> Node:
    """Write the parsed document onto `row`, once its place is free; its (new) node."""
    doc, mac = parsed
    new_node = _placed(session, doc, mac, row.id)
    if new_node.id != row.node_id and portgroups.has_ports(session, row.id):
        raise errors.PortgroupNotEmpty(portgroup=row.uuid)
    row.name, row.address, row.node_id = doc.name, mac, new_node.id
    row.standalone_ports_supported, row.extra = doc.standalone_ports_supported, doc.extra
    # Fields newer than this microversion were not in the patched document.
    if "mode" in updatable:
        row.mode, row.properties = doc.mode or DEFAULT_MODE, doc.properties
    any_table.store(session)
    return new_node


@router.patch("/v1/portgroups/{ident}")
def update_portgroup(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    _need_portgroups(call.minor)
    minor, base_url, identity = call.minor, call.base_url, call.identity
    updatable = _writable(minor)
    patch.reject_newer_fields(body, PORTGROUPS.fields.since, minor)
    names = PORTGROUPS.fields.detail(minor)
    for attempt in writes.attempts(call.services, "portgroup"):
        with attempt:
            with call.services.db.read() as session:
                row = get(session, ident, minor)
                node = subresources.node_of(session, row)
                before = subresources.render(PORTGROUPS, row, node.uuid, names, base_url, identity)
            after = patch.apply(before, body, updatable=updatable)
            parsed = _parsed({k: after[k] for k in updatable if k in after}, minor, updatable)
            with call.services.db.write() as session:
                row = get(session, ident, minor)
                node = writes.hold(session, subresources.node_of(session, row))
                now = subresources.render(PORTGROUPS, row, node.uuid, names, base_url, identity)
                writes.unchanged(before, now)
                new_node = _store(session, row, parsed, updatable)
                document = subresources.render(
                    PORTGROUPS, row, new_node.uuid, names, base_url, identity
                )
    return responses.json(document)


@router.delete("/v1/portgroups/{ident}", status_code=204)
def delete_portgroup(ident: str, call: CurrentCall) -> Response:
    _need_portgroups(call.minor)
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            row = get(session, ident, call.minor)
            writes.hold(session, subresources.node_of(session, row))
            if portgroups.has_ports(session, row.id):
                raise errors.PortgroupNotEmpty(portgroup=row.uuid)
            any_table.remove(session, row)
    return Response(status_code=204)
