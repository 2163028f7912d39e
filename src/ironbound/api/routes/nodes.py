"""/v1/nodes: create, list, show, update (JSON Patch), delete."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors, sensitive, states
from ironbound.api import (
    driver_checks,
    listing,
    lookups,
    patch,
    problems,
    responses,
    sync_jobs,
    writes,
)
from ironbound.api import microversions as mv
from ironbound.api.deps import Call, CurrentCall, JsonBody
from ironbound.api.schemas.common import check_node_name, check_uuid, validate
from ironbound.api.schemas.node import NodeDocument
from ironbound.api.services import ApiServices
from ironbound.api.views import node as view
from ironbound.config import INTERFACE_TYPES
from ironbound.db import any_table, managed_volumes, nodes, traits
from ironbound.db.models import Node
from ironbound.jobspec import JobKind
from ironbound.records import CONFIG_DRIVE_TARGET, VOLUME_ATTACHMENTS

router = APIRouter()

_FILTERS: dict[str, int] = {
    "associated": 1,
    "maintenance": 1,
    "instance_uuid": 1,
    "chassis_uuid": 1,
    "provision_state": mv.PROVISION_STATE_FILTER,
    "driver": mv.DRIVER_FILTER,
    "resource_class": mv.RESOURCE_CLASS,
    "conductor_group": mv.CONDUCTOR_GROUP,
    "fault": mv.NODE_FAULT,
    "owner": mv.NODE_OWNER,
}

#: Fields a PATCH may change, with the microversion that allows it.
_UPDATABLE: dict[str, int] = {
    "name": mv.NODE_NAMES,
    "driver": 1,
    "driver_info": 1,
    "extra": 1,
    "instance_info": 1,
    "instance_uuid": 1,
    "properties": 1,
    "chassis_uuid": 1,
    "resource_class": mv.RESOURCE_CLASS,
    "conductor_group": mv.CONDUCTOR_GROUP,
    **{f"{i}_interface": v for i, v in driver_checks.INTERFACE_VERSIONS.items()},
    "automated_clean": mv.NODE_AUTOMATED_CLEAN,
    "protected": mv.NODE_PROTECTED,
    "protected_reason": mv.NODE_PROTECTED,
    "owner": mv.NODE_OWNER,
    "description": mv.NODE_DESCRIPTION,
}

#: Fields a create may set: the updatable ones but protection, which needs a deployed node.
_CREATABLE: dict[str, int] = {
    **{k: v for k, v in _UPDATABLE.items() if k not in ("protected", "protected_reason")},
    "uuid": 1,
}

#: Fields a create or PATCH stores as the document gives them.
_PLAIN_FIELDS = (
    "name",
    "driver",
    "instance_uuid",
    "properties",
    "extra",
    "resource_class",
    "automated_clean",
    "protected",
    "protected_reason",
    "owner",
    "description",
)

#: Interface and driver changes are refused outside these states unless in maintenance.
_INTERFACE_UPDATE_STATES = states.STORAGE_UPDATE_ALLOWED_STATES


def _list(call: Call, detail: bool) -> Response:
    too_new = [n for n, since in _FILTERS.items() if since > call.minor]
    given = [n for n in too_new if n in call.request.query_params]
    if given:
        # As Ironic: a filter the requested version does not have is Not Acceptable.
        since = min(_FILTERS[n] for n in given)
        raise problems.FilterTooNew(names=given, version=mv.version_string(since))
    filters = [name for name in _FILTERS if name not in too_new]
    query = listing.list_query(
        call, view.NODES, filters=filters, detail_path=detail, detail_since=mv.DETAIL_QUERY
    )
    names = query.names(view.NODES.fields, call.minor)
    with call.services.db.read() as session:
        marker = _marker(session, query.marker)
        match, associated = _filters(query.filters)
        rows = (
            []  # Ironbound has no chassis: no node is in one.
            if "chassis_uuid" in query.filters
            else nodes.page(
                session,
                match=match,
                associated=associated,
                sort_key=query.sort_key,
                sort_dir=query.sort_dir,
                limit=query.limit,
                marker=marker,
                columns=view.columns(names),
            )
        )
        found = traits.by_node(session, [n.id for n in rows]) if "traits" in names else {}
        catalogue = call.services.catalogue
        items = [
            view.render(n, names, call.minor, call.base_url, catalogue, found.get(n.id, ()))
            for n in rows
        ]
    return listing.page(call, view.NODES, query, items)


def _marker(session: Session, marker: str | None) -> Node | None:
    if marker is None:
        return None
    try:
        return nodes.get_by_uuid(session, check_uuid(marker, "marker"))
    except errors.NodeNotFound as exc:
        raise problems.UnknownMarker(marker=marker, kind="node") from exc


def _filters(filters: dict[str, str]) -> tuple[list[tuple[str, Any]], bool | None]:
    """The list filters, checked in order: column matches, and `associated` (or None)."""
    match: list[tuple[str, Any]] = []
    associated = None
    for name, value in filters.items():
        if name == "associated":
            associated = listing.parse_bool(name, value)
        elif name == "maintenance":
            match.append((name, listing.parse_bool(name, value)))
        elif name == "instance_uuid":
            match.append((name, check_uuid(value, name)))
        elif name == "conductor_group":
            match.append((name, driver_checks.conductor_group(value)))
        elif name == "fault":
            if value not in states.FAULTS:
                raise problems.InvalidFault(fault=value, allowed=states.FAULTS)
            match.append((name, value))
        elif name != "chassis_uuid":
            match.append((name, value))
    return match, associated


@router.get("/v1/nodes")
@router.get("/v1/nodes/", include_in_schema=False)  # the CLI's path when it filters
def list_nodes(call: CurrentCall) -> Response:
    return _list(call, detail=False)


@router.get("/v1/nodes/detail")
def list_nodes_detail(call: CurrentCall) -> Response:
    return _list(call, detail=True)


@router.get("/v1/nodes/{ident}")
def show_node(ident: str, call: CurrentCall) -> Response:
    names = listing.show_names(call, view.NODES.fields)
    lookups.check_ident(ident, call.minor)
    with call.services.db.read() as session:
        node = nodes.get_row(session, ident)
        found = traits.names(session, node.id) if "traits" in names else ()
        return responses.json(
            view.render(node, names, call.minor, call.base_url, call.services.catalogue, found)
        )


def _requested_interfaces(doc: NodeDocument) -> dict[str, str | None]:
    return {i: getattr(doc, f"{i}_interface") for i in driver_checks.INTERFACE_VERSIONS}


def _check_unique(session: Session, node: Node | None, doc: NodeDocument) -> None:
    own_id = node.id if node is not None else None
    if doc.name is not None and any_table.clashes(session, Node, own_id, {"name": doc.name}):
        raise errors.DuplicateName(name=doc.name)
    if doc.instance_uuid is not None:
        if node is not None and node.instance_uuid not in (None, doc.instance_uuid):
            # Nova's reservation: whoever set instance_uuid first keeps the node.
            raise errors.InstanceAssociated(node=node.uuid, instance_uuid=node.instance_uuid)
        other = nodes.owner_of_instance(session, doc.instance_uuid)
        if other is not None and (node is None or other != node.uuid):
            raise errors.InstanceAssociated(node=other, instance_uuid=doc.instance_uuid)


@router.post("/v1/nodes", status_code=201)
def create_node(body: JsonBody, call: CurrentCall) -> Response:
    if isinstance(body, dict):
        # As Ironic: an empty conductor_group is no group at any version.
        given = [k for k, v in body.items() if v not in (None, "") or k != "conductor_group"]
        listing.reject_newer(
            sorted(k for k in given if body[k] is not None), view.FIELDS, call.minor
        )
        unknown = sorted(set(body) - set(_CREATABLE))
        if unknown:
            raise problems.NotSettableOnCreate(
                unknown=unknown, allowed=sorted(listing.visible(_CREATABLE, call.minor))
            )
    doc: NodeDocument = validate(NodeDocument, body, "node")
    if doc.name is not None:
        check_node_name(doc.name, call.minor)
    interfaces = driver_checks.resolve(call.services, doc.driver, _requested_interfaces(doc))
    driver_info, driver_secrets = sensitive.split(doc.driver_info, {})
    instance_info, instance_secrets = sensitive.split(doc.instance_info, {})
    node = Node(
        uuid=doc.uuid or str(uuidlib.uuid4()),
        **{name: getattr(doc, name) for name in _PLAIN_FIELDS},
        driver_info=driver_info,
        driver_secrets=call.services.box.seal(driver_secrets),
        instance_info=instance_info,
        instance_secrets=call.services.box.seal(instance_secrets),
        provision_state=states.ENROLL if call.minor >= mv.ENROLL_ON_CREATE else states.AVAILABLE,
        power_state=None,
        maintenance=False,
        driver_internal_info={},
        conductor_group=driver_checks.conductor_group(doc.conductor_group),
        **{f"{iface}_interface": name for iface, name in interfaces.items()},
    )
    driver_checks.require_conductor(call.services, node)
    with call.services.db.write() as session:
        if any_table.clashes(session, Node, None, {"uuid": node.uuid}):
            raise errors.NodeAlreadyExists(uuid=node.uuid)
        _check_unique(session, None, doc)
        any_table.add(session, node)
        document = view.render(
            node,
            view.NODES.fields.detail(call.minor),
            call.minor,
            call.base_url,
            call.services.catalogue,
        )
    return responses.json(document, status=201, location=f"{call.base_url}/v1/nodes/{node.uuid}")


@dataclass(frozen=True)
class _Seen:
    """A node as a PATCH reads it: its document, hidden fields and sealed secrets."""

    before: dict[str, Any]
    #: Fields newer than the request's microversion: not in `before`, kept as they are.
    hidden: dict[str, Any]
    driver_secrets: str | None
    instance_secrets: str | None


@dataclass(frozen=True)
class _Change:
    doc: NodeDocument
    #: Columns to store: the masked mappings, and the secrets sealed anew if they changed.
    fields: dict[str, Any]


def _reset_interfaces(request: Request, body: Any, minor: int) -> bool:
    """The `reset_interfaces` parameter (1.45), allowed only with a change of driver."""
    if "reset_interfaces" not in request.query_params:
        return False
    if minor < mv.RESET_INTERFACES:
        raise problems.ResetInterfacesTooNew(version=mv.version_string(mv.RESET_INTERFACES))
    reset = listing.parse_bool("reset_interfaces", request.query_params["reset_interfaces"])
    if reset and not _touches(body, "driver", ops=("add", "replace")):
        raise problems.ResetInterfacesWithoutDriver()
    return reset


def _touches(body: Any, root: str, ops: tuple[str, ...] = patch.OPS) -> bool:
    """Whether the JSON Patch `body` has an operation in `ops` on the field `root`."""
    return isinstance(body, list) and any(
        isinstance(op, dict)
        and op.get("op") in ops
        and isinstance(op.get("path"), str)
        and op["path"].split("/")[1:2] == [root]
        for op in body
    )


@router.patch("/v1/nodes/{ident}")
def update_node(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    updatable = [name for name, since in _UPDATABLE.items() if since <= call.minor]
    if _touches(body, "traits"):
        raise problems.TraitsNotPatchable()
    patch.reject_newer_fields(body, view.FIELDS, call.minor)
    reset = _reset_interfaces(call.request, body, call.minor)
    names = view.NODES.fields.detail(call.minor)

    for attempt in writes.attempts(call.services, "node"):
        with attempt:
            with call.services.db.read() as session:
                seen = _seen(lookups.node(session, ident, call.minor), names, call)
            change = _worked_out(call.services, seen, body, updatable, call.minor)
            with call.services.db.write() as session:
                node = writes.hold(session, lookups.node(session, ident, call.minor))
                writes.unchanged(seen, _seen(node, names, call))
                _store(session, call.services, node, change, call.minor, reset)
                found = traits.names(session, node.id) if "traits" in names else ()
                document = view.render(
                    node, names, call.minor, call.base_url, call.services.catalogue, found
                )
    return responses.json(document)


def _seen(node: Node, names: tuple[str, ...], call: Call) -> _Seen:
    before = view.render(node, names, call.minor, call.base_url, call.services.catalogue)
    hidden = {k: getattr(node, k) for k in _UPDATABLE if k not in before}
    return _Seen(before, hidden, node.driver_secrets, node.instance_secrets)


def _worked_out(
    services: ApiServices, seen: _Seen, body: Any, updatable: list[str], minor: int
) -> _Change:
    """The patch applied and the result checked: the work done outside the write."""
    after = patch.apply(seen.before, body, updatable=updatable, required=("driver",))
    candidate = {k: after[k] for k in NodeDocument.model_fields if k in after and k != "uuid"}
    # Fields newer than this microversion are not in the document the
    # patch applied to; they keep their values (a PATCH at 1.1 must not
    # erase the node's name or resource_class).
    candidate.update(seen.hidden)
    doc: NodeDocument = validate(NodeDocument, candidate, "node")
    if doc.name is not None and doc.name != {**seen.before, **seen.hidden}["name"]:
        check_node_name(doc.name, minor)
    return _Change(doc, _secret_fields(services, seen, doc))


def _store(
    session: Session, services: ApiServices, node: Node, change: _Change, minor: int, reset: bool
) -> None:
    """Check the change against the stored node and store it."""
    _check_unique(session, node, change.doc)
    _apply_interfaces(services, node, change.doc, minor, reset)
    fields = {
        **{name: getattr(change.doc, name) for name in _PLAIN_FIELDS},
        "conductor_group": driver_checks.conductor_group(change.doc.conductor_group),
        **change.fields,
    }
    _check_protection(node, fields)
    moved = fields["conductor_group"] != node.conductor_group or node.driver != fields["driver"]
    nodes.apply_fields(node, {k: v for k, v in fields.items() if getattr(node, k) != v})
    if moved:  # as Ironic: a node no conductor would take is refused (No valid host)
        driver_checks.require_conductor(services, node)
    any_table.store(session)


def _secret_fields(services: ApiServices, seen: _Seen, doc: NodeDocument) -> dict[str, Any]:
    """driver_info and instance_info masked, and their secrets sealed again if they changed.

    The stored masked mapping goes to `split` so a kept secret follows its list element.
    """
    fields: dict[str, Any] = {}
    for info, sealed_column, sealed in (
        ("driver_info", "driver_secrets", seen.driver_secrets),
        ("instance_info", "instance_secrets", seen.instance_secrets),
    ):
        old = services.box.open(sealed)
        fields[info], found = sensitive.split(getattr(doc, info), old, seen.before[info])
        if found != old:
            fields[sealed_column] = services.box.seal(found)
    return fields


def _check_protection(node: Node, fields: dict[str, Any]) -> None:
    """Ironic's rules for `protected`: set only on a deployed node; unsetting it drops the
    reason (`fields` is changed so); a reason needs it set.

    :raises InvalidState: protecting a node that is not deployed.
    :raises InvalidParameterValue: a reason without protection.
    """
    if fields["protected"] != node.protected:
        if not fields["protected"]:
            fields["protected_reason"] = None
        elif node.provision_state not in states.PROTECTABLE_STATES:
            raise problems.ProtectRefused(
                node=node.uuid, allowed=states.PROTECTABLE_STATES, state=node.provision_state
            )
    reason = fields["protected_reason"]
    if reason != node.protected_reason and reason and not fields["protected"]:
        raise problems.ProtectedReasonWithoutProtected()


def _apply_interfaces(
    services: ApiServices, node: Node, doc: NodeDocument, minor: int, reset: bool
) -> None:
    """Driver and interface changes: checked against the catalogue and the node's state.

    A removed interface goes back to the hardware type's default. With a new
    driver, the other interfaces stay (and must suit it), or with `reset`
    (`?reset_interfaces=true`, 1.45) go to the new driver's defaults, as in Ironic.
    """
    requested = _requested_interfaces(doc)
    visible = [i for i, since in driver_checks.INTERFACE_VERSIONS.items() if since <= minor]
    current = {i: getattr(node, f"{i}_interface") for i in INTERFACE_TYPES}
    asked = {i: requested[i] for i in visible if requested[i] != current[i]}
    driver_changed = doc.driver != node.driver
    if not driver_changed and not asked:
        return
    if node.provision_state not in _INTERFACE_UPDATE_STATES and not node.maintenance:
        what = "driver" if driver_changed else f"{sorted(asked)[0]}_interface"
        raise problems.InterfaceUpdateRefused(
            node=node.uuid, what=what, allowed=_INTERFACE_UPDATE_STATES, state=node.provision_state
        )
    wanted: dict[str, str | None] = {} if driver_changed and reset else dict(current)
    wanted.update(asked)
    chosen = driver_checks.resolve(services, doc.driver, wanted)
    for iface in current:
        setattr(node, f"{iface}_interface", chosen.get(iface))


def _check_deletable(node: Node) -> None:
    """Ironic's checks, in its order: an instance, protection, the provision state."""
    if node.instance_uuid is not None and not node.maintenance:
        raise errors.InstanceAssociated(node=node.uuid, instance_uuid=node.instance_uuid)
    if node.protected:
        raise problems.NodeProtected(node=node.uuid)
    if node.provision_state not in states.DELETE_ALLOWED_STATES and not node.maintenance:
        raise problems.NodeDeleteRefused(
            node=node.uuid, state=node.provision_state, allowed=states.DELETE_ALLOWED_STATES
        )


def _check_no_kept_volumes(session: Session, node: Node) -> None:
    """A node's deletion never deletes data: a volume it owns must be deleted on purpose."""
    owned = managed_volumes.owned_by(session, node.id)
    if owned:
        raise problems.NodeHoldsManagedVolumes(node=node.uuid, volumes=", ".join(owned))


def _attached(services: ApiServices, ident: str, minor: int) -> int | None:
    """The node's id when it may be deleted but still holds volume attachments, else None."""
    with services.db.read() as session:
        node = lookups.node(session, ident, minor)
        _check_deletable(node)
        held = node.driver_internal_info
        return node.id if held.get(VOLUME_ATTACHMENTS) or held.get(CONFIG_DRIVE_TARGET) else None


def _delete(services: ApiServices, ident: str, minor: int) -> None:
    for attempt in writes.attempts(services):
        with attempt, services.db.write() as session:
            node = writes.hold(session, lookups.node(session, ident, minor))
            _check_deletable(node)
            _check_no_kept_volumes(session, node)
            any_table.remove(session, node)


@router.delete("/v1/nodes/{ident}", status_code=204)
async def delete_node(ident: str, call: CurrentCall) -> Response:
    """Delete a node; one that still holds volume attachments (say, deleted in
    maintenance while active) first has a conductor detach them, so that no
    attachment outlives its node in Cinder."""
    attached = await to_thread.run_sync(_attached, call.services, ident, call.minor)
    if attached is not None:
        await sync_jobs.ask(call.services, attached, JobKind.RELEASE_STORAGE)
    await to_thread.run_sync(_delete, call.services, ident, call.minor)
    return Response(status_code=204)
