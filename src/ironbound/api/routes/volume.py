"""/v1/volume: volume connectors (a node's initiator identities) and targets (its volumes)."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors, sensitive, states
from ironbound.api import (
    links,
    listing,
    patch,
    policy,
    problems,
    responses,
    subresources,
    writes,
)
from ironbound.api import microversions as mv
from ironbound.api.deps import (
    Call,
    CurrentCall,
    JsonBody,
)
from ironbound.api.schemas.common import validate
from ironbound.api.schemas.volume import (
    ConnectorDocument,
    TargetDocument,
    check_connector,
    check_target,
)
from ironbound.api.services import ApiServices
from ironbound.db import any_table, nodes
from ironbound.db.models import Node, VolumeConnector, VolumeTarget

router = APIRouter()

REDACTED = {
    "redacted_contents": "** Value redacted: Requires permission "
    f"{policy.VIEW_TARGET_PROPERTIES} access. Permission denied. **"
}


def _redact(row: Any, out: dict[str, Any], identity: policy.Identity) -> None:
    if "properties" in out and not identity.allowed(policy.VIEW_TARGET_PROPERTIES):
        out["properties"] = dict(REDACTED)


_COMMON = {"uuid": 1, "node_uuid": 1, "extra": 1, "created_at": 1, "updated_at": 1, "links": 1}

CONNECTORS = subresources.Subresource(
    model=VolumeConnector,
    collection="volume/connectors",
    list_key="connectors",
    fields=listing.FieldTable(
        {**_COMMON, "type": 1, "connector_id": 1},
        ("uuid", "node_uuid", "type", "connector_id", "links"),
    ),
    sortable=frozenset({"id", "uuid", "type", "connector_id", "created_at", "updated_at"}),
    uuid_field="connector_uuid",
    not_found=lambda ident: errors.VolumeConnectorNotFound(connector=ident),
)

TARGETS = subresources.Subresource(
    model=VolumeTarget,
    collection="volume/targets",
    list_key="targets",
    fields=listing.FieldTable(
        {**_COMMON, "volume_type": 1, "properties": 1, "boot_index": 1, "volume_id": 1},
        ("uuid", "node_uuid", "volume_type", "boot_index", "volume_id", "links"),
    ),
    sortable=frozenset(
        {"id", "uuid", "volume_type", "boot_index", "volume_id", "created_at", "updated_at"}
    ),
    uuid_field="target_uuid",
    not_found=lambda ident: errors.VolumeTargetNotFound(target=ident),
    finish=_redact,
)

_KINDS = {"connectors": CONNECTORS, "targets": TARGETS}


def _need_volume_api(minor: int) -> None:
    if minor < mv.VOLUME:
        raise problems.ResourceNotFound()


def _volume_document(base_url: str, prefix: str) -> dict[str, Any]:
    return {
        "links": links.pair(base_url, prefix),
        "connectors": links.pair(base_url, f"{prefix}/connectors"),
        "targets": links.pair(base_url, f"{prefix}/targets"),
        **({"managed": links.pair(base_url, "volume/managed")} if prefix == "volume" else {}),
    }


@router.get("/v1/volume")
@router.get("/v1/volume/")
def volume_root(call: CurrentCall) -> Response:
    if call.minor < mv.VOLUME:
        raise errors.VersionNotSupported()
    return responses.json(_volume_document(call.base_url, "volume"))


@router.get("/v1/nodes/{node_ident}/volume")
def node_volume(node_ident: str, call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    with call.services.db.read() as session:
        node = nodes.get_by_uuid(session, subresources.check_uuid_or_404(node_ident))
    return responses.json(_volume_document(call.base_url, f"nodes/{node.uuid}/volume"))


def _connectors(call: Call, detail: bool, node_ident: str | None) -> Response:
    return _list(CONNECTORS, call, node_ident)


def _targets(call: Call, detail: bool, node_ident: str | None) -> Response:
    return _list(TARGETS, call, node_ident)


def _list(spec: subresources.Subresource, call: Call, node_ident: str | None) -> Response:
    """Volume lists take `?detail=True` only (1.32), never a /detail path."""
    _need_volume_api(call.minor)
    filters = {} if node_ident else {"node": subresources.by_node}
    return subresources.list_page(
        call, spec, node_ident=node_ident, filters=filters, detail_since=mv.VOLUME
    )


subresources.add_list_routes(router, "volume/connectors", _connectors, detail_paths=False)
subresources.add_list_routes(router, "volume/targets", _targets, detail_paths=False)


@router.post("/v1/nodes/{node_ident}/volume/connectors")
@router.post("/v1/nodes/{node_ident}/volume/connectors/", include_in_schema=False)
@router.post("/v1/nodes/{node_ident}/volume/targets")
@router.post("/v1/nodes/{node_ident}/volume/targets/", include_in_schema=False)
def create_under_node(node_ident: str, call: CurrentCall) -> Response:
    """Refused, as Ironic refuses it: a connector's or target's node goes in the body."""
    _need_volume_api(call.minor)
    raise errors.MalformedRequestURI()


@router.get("/v1/volume/connectors/{ident}")
def show_connector(ident: str, call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    return subresources.show(call, CONNECTORS, ident)


@router.get("/v1/volume/targets/{ident}")
def show_target(ident: str, call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    return subresources.show(call, TARGETS, ident)


# --- connectors -------------------------------------------------------------


_ParsedConnector = tuple[ConnectorDocument, str]


def _parsed_connector(body: Any) -> _ParsedConnector:
    """The connector document and its normalised id: the checks that need no database."""
    doc: ConnectorDocument = validate(ConnectorDocument, body, "volume connector")
    return doc, check_connector(doc)


def _placed_connector(
    session: Session, doc: ConnectorDocument, connector_id: str, own_id: int | None
) -> Node:
    """The connector's node, once its type and id are known to be free."""
    node = subresources.body_node(session, doc.node_uuid)
    if subresources.unique_violation(
        session, CONNECTORS, own_id, type=doc.type, connector_id=connector_id
    ):
        raise errors.VolumeConnectorTypeAndIdAlreadyExists(type=doc.type, connector_id=connector_id)
    return node


def _created(
    spec: subresources.Subresource,
    row: Any,
    node: Node,
    base_url: str,
    minor: int,
    identity: policy.Identity,
) -> Response:
    document = subresources.render(
        spec, row, node.uuid, spec.fields.detail(minor), base_url, identity
    )
    return responses.json(
        document, status=201, location=f"{base_url}/v1/{spec.collection}/{row.uuid}"
    )


def _check_new_uuid(
    session: Session,
    spec: subresources.Subresource,
    value: str | None,
    conflict: Callable[[str], errors.Conflict],
) -> str:
    new_uuid = value or str(uuidlib.uuid4())
    if subresources.unique_violation(session, spec, None, uuid=new_uuid):
        raise conflict(new_uuid)
    return new_uuid


@router.post("/v1/volume/connectors", status_code=201)
@router.post("/v1/volume/connectors/", status_code=201, include_in_schema=False)
def create_connector(body: JsonBody, call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    doc, connector_id = _parsed_connector(body)
    with call.services.db.write() as session:
        node = _placed_connector(session, doc, connector_id, None)
        row = VolumeConnector(
            uuid=_check_new_uuid(
                session, CONNECTORS, doc.uuid, lambda u: errors.VolumeConnectorAlreadyExists(uuid=u)
            ),
            node_id=node.id,
            type=doc.type,
            connector_id=connector_id,
            extra=doc.extra,
        )
        any_table.add(session, row)
        return _created(CONNECTORS, row, node, call.base_url, call.minor, call.identity)


# --- targets ----------------------------------------------------------------


@dataclass(frozen=True)
class _ParsedTarget:
    doc: TargetDocument
    masked: dict[str, Any]
    sealed: str | None


def _parsed_target(
    services: ApiServices, body: Any, sealed: str | None, masked: dict[str, Any] | None
) -> _ParsedTarget:
    """The target document, its properties checked and their secrets split and sealed.

    `sealed` and `masked` are what the target stored before (none on create):
    a kept secret follows its list element.
    """
    doc: TargetDocument = validate(TargetDocument, body, "volume target")
    check_target(doc)
    properties, found = sensitive.split(doc.properties, services.box.open(sealed), masked)
    return _ParsedTarget(doc, properties, services.box.seal(found))


def _placed_target(session: Session, doc: TargetDocument, own_id: int | None) -> Node:
    """The target's node, once its boot_index is known to be free there."""
    node = subresources.body_node(session, doc.node_uuid)
    if subresources.unique_violation(
        session, TARGETS, own_id, node_id=node.id, boot_index=doc.boot_index
    ):
        raise errors.VolumeTargetBootIndexAlreadyExists(boot_index=doc.boot_index)
    return node


@router.post("/v1/volume/targets", status_code=201)
@router.post("/v1/volume/targets/", status_code=201, include_in_schema=False)
def create_target(body: JsonBody, call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    # Checked, split and sealed before the write transaction, as updates are.
    parsed = _parsed_target(call.services, body, None, None)
    doc = parsed.doc
    with call.services.db.write() as session:
        node = _placed_target(session, doc, None)
        row = VolumeTarget(
            uuid=_check_new_uuid(
                session, TARGETS, doc.uuid, lambda u: errors.VolumeTargetAlreadyExists(uuid=u)
            ),
            node_id=node.id,
            volume_type=doc.volume_type,
            boot_index=doc.boot_index,
            volume_id=doc.volume_id,
            properties=parsed.masked,
            secret_properties=parsed.sealed,
            extra=doc.extra,
        )
        any_table.add(session, row)
        # The creator sees the properties masked but not redacted, as in Ironic.
        return _created(TARGETS, row, node, call.base_url, call.minor, policy.ADMIN)


# --- update and delete, both kinds -------------------------------------------

_UPDATABLE = {
    "connectors": ("connector_id", "extra", "node_uuid", "type"),
    "targets": ("boot_index", "extra", "node_uuid", "properties", "volume_id", "volume_type"),
}
_ACTION = {"connectors": "volume connector", "targets": "volume target"}


@dataclass(frozen=True)
class _Seen:
    """A record as a PATCH reads it: its document (unredacted) and its sealed secrets."""

    before: dict[str, Any]
    sealed: str | None


def _seen(kind: str, row: VolumeConnector | VolumeTarget, node: Node, call: Call) -> _Seen:
    """The record as the patch sees it, if its node is powered off.

    :raises InvalidStateRequested: the node is not powered off.
    """
    if node.power_state != states.POWER_OFF:
        raise errors.InvalidStateRequested(
            action=f"{_ACTION[kind]} update", node=node.uuid, state=node.power_state
        )
    names = _KINDS[kind].fields.detail(call.minor)
    before = subresources.render(_KINDS[kind], row, node.uuid, names, call.base_url, policy.ADMIN)
    return _Seen(before, getattr(row, "secret_properties", None))


def _patched(
    kind: str, seen: _Seen, body: Any, services: ApiServices
) -> _ParsedConnector | _ParsedTarget:
    """The patch applied and the result parsed: the work done outside the write."""
    after = patch.apply(seen.before, body, updatable=_UPDATABLE[kind])
    if after.get("properties") == REDACTED:
        # A client writing back the redacted document it was shown
        # would replace the real properties with the placeholder.
        raise problems.RedactedPropertiesWritten()
    candidate = {k: after[k] for k in _UPDATABLE[kind] if k in after}
    if kind == "connectors":
        return _parsed_connector(candidate)
    return _parsed_target(services, candidate, seen.sealed, seen.before["properties"])


def _store(
    session: Session, row: VolumeConnector | VolumeTarget, parsed: _ParsedConnector | _ParsedTarget
) -> Node:
    """Write the parsed document onto `row`, once its place is free; its (new) node."""
    if isinstance(row, VolumeConnector):
        assert not isinstance(parsed, _ParsedTarget)
        cdoc, connector_id = parsed
        node = _placed_connector(session, cdoc, connector_id, row.id)
        row.type, row.connector_id, row.extra = cdoc.type, connector_id, cdoc.extra
    else:
        assert isinstance(parsed, _ParsedTarget)
        tdoc = parsed.doc
        node = _placed_target(session, tdoc, row.id)
        row.volume_type, row.boot_index = tdoc.volume_type, tdoc.boot_index
        row.volume_id, row.extra = tdoc.volume_id, tdoc.extra
        row.properties, row.secret_properties = parsed.masked, parsed.sealed
    row.node_id = node.id
    any_table.store(session)
    return node


def _update(kind: str, ident: str, body: Any, call: Call) -> Response:
    _need_volume_api(call.minor)
    spec = _KINDS[kind]
    for attempt in writes.attempts(call.services, _ACTION[kind]):
        with attempt:
            with call.services.db.read() as session:
                row = _volume_row(session, kind, ident)
                seen = _seen(kind, row, subresources.node_of(session, row), call)
            parsed = _patched(kind, seen, body, call.services)
            with call.services.db.write() as session:
                row = _volume_row(session, kind, ident)
                node = writes.hold(session, subresources.node_of(session, row))
                writes.unchanged(seen, _seen(kind, row, node, call))
                node = _store(session, row, parsed)
                names = spec.fields.detail(call.minor)
                document = subresources.render(
                    spec, row, node.uuid, names, call.base_url, call.identity
                )
    return responses.json(document)


def _delete(kind: str, ident: str, call: Call) -> Response:
    _need_volume_api(call.minor)
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            row = _volume_row(session, kind, ident)
            node = writes.hold(session, subresources.node_of(session, row))
            if (
                node.provision_state not in states.VOLUME_DELETE_ALLOWED_STATES
                and node.power_state != states.POWER_OFF
            ):
                raise errors.InvalidStateRequested(
                    action=f"{_ACTION[kind]} deletion", node=node.uuid, state=node.power_state
                )
            any_table.remove(session, row)
    return Response(status_code=204)


def _volume_row(session: Session, kind: str, ident: str) -> VolumeConnector | VolumeTarget:
    row = subresources.get(session, _KINDS[kind], ident)
    assert isinstance(row, VolumeConnector | VolumeTarget)
    return row


@router.patch("/v1/volume/connectors/{ident}")
def update_connectors(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    return _update("connectors", ident, body, call)


@router.patch("/v1/volume/targets/{ident}")
def update_targets(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    return _update("targets", ident, body, call)


@router.delete("/v1/volume/connectors/{ident}", status_code=204)
def delete_connectors(ident: str, call: CurrentCall) -> Response:
    return _delete("connectors", ident, call)


@router.delete("/v1/volume/targets/{ident}", status_code=204)
def delete_targets(ident: str, call: CurrentCall) -> Response:
    return _delete("targets", ident, call)
