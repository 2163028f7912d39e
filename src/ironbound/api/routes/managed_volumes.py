"""/v1/volume/managed: the boot volumes Ironbound stores itself (the `managed` storage interface).

Ironic has no such resource; it follows the conventions of the volume
connectors and targets beside it: `limit`, `marker`, `sort_key`, `sort_dir`,
`fields`, `detail` and a `node` filter, the `next` link, Ironic's error
envelope. CHAP passwords are always `******` (responses never open a seal);
callers without the target-properties policy see the usernames masked too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors, records, sensitive
from ironbound.api import links, listing, locking, patch, policy, problems, responses, subresources
from ironbound.api.deps import CurrentCall, JsonBody, Services, Version
from ironbound.api.microversions import VOLUME
from ironbound.api.schemas.common import check_uuid
from ironbound.db import managed_volumes, nodes, queries
from ironbound.db.models import ManagedVolume, Node

router = APIRouter()

_FIELDS = (
    "uuid", "node_uuid", "state", "size_bytes", "shareable", "image", "target_iqn", "lun",
    "initiators", "auth_username", "auth_password", "reverse_auth_username",
    "reverse_auth_password", "path", "created_at", "updated_at", "links",
)  # fmt: skip
_SECRET = frozenset({"auth_password", "reverse_auth_password"})
_NAMES = frozenset({"auth_username", "reverse_auth_username"})

RESOURCE = listing.Resource(
    collection="volume/managed",
    list_key="volumes",
    fields=listing.FieldTable(
        {name: VOLUME for name in _FIELDS},
        ("uuid", "node_uuid", "state", "size_bytes", "shareable", "links"),
    ),
    sortable=frozenset({"id", "uuid", "state", "size_bytes", "created_at", "updated_at"}),
)


def _render(
    row: Any,
    node_uuid: str | None,
    names: tuple[str, ...],
    call_base: str,
    identity: policy.Identity,
) -> dict[str, Any]:
    see_names = identity.allowed(policy.VIEW_TARGET_PROPERTIES)
    out: dict[str, Any] = {}
    for name in names:
        if name == "links":
            out[name] = links.pair(call_base, f"{RESOURCE.collection}/{row.uuid}")
        elif name == "node_uuid":
            out[name] = node_uuid
        elif name in _SECRET:
            username = getattr(row, name.replace("password", "username"))
            out[name] = sensitive.MASK if username else None
        elif name in _NAMES and not see_names:
            out[name] = sensitive.MASK if getattr(row, name) else None
        else:
            out[name] = getattr(row, name)
    return out


def _need_volume_api(minor: int) -> None:
    if minor < VOLUME:
        raise problems.ResourceNotFound()


def _get(session: Session, ident: str) -> ManagedVolume:
    row = managed_volumes.by_uuid(session, check_uuid(ident, "volume_uuid"))
    if row is None:
        raise problems.ManagedVolumeNotFound(volume=ident)
    return row


def _owner_uuid(session: Session, row: Any) -> str | None:
    return None if row.node_id is None else nodes.get_by_id(session, row.node_id).uuid


@router.get("/v1/volume/managed")
@router.get("/v1/volume/managed/", include_in_schema=False)
def list_volumes(call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    query = listing.list_query(call, RESOURCE, filters=("node",), detail_param=True)
    names = query.names(RESOURCE.fields, call.minor)
    with call.services.db.read() as session:
        match = [subresources.by_node(session, query.filters["node"])] if query.filters else []
        marker = None
        if query.marker is not None:
            marker = managed_volumes.by_uuid(session, query.marker)
            if marker is None:
                raise problems.UnknownMarker(marker=query.marker, kind="volume")
        rows = queries.page(
            session,
            ManagedVolume,
            match=match,
            sort_key=query.sort_key,
            sort_dir=query.sort_dir,
            limit=query.limit,
            marker=marker,
        )
        uuids = nodes.uuids_by_id(session, (r.node_id for r in rows if r.node_id is not None))
        items = [
            _render(r, uuids.get(r.node_id), names, call.base_url, call.identity) for r in rows
        ]
    return listing.page(call, RESOURCE, query, items)


@router.get("/v1/volume/managed/{ident}")
def show_volume(ident: str, call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    names = listing.show_names(call, RESOURCE.fields)
    with call.services.db.read() as session:
        row = _get(session, ident)
        return responses.json(
            _render(row, _owner_uuid(session, row), names, call.base_url, call.identity)
        )


@router.patch("/v1/volume/managed/{ident}")
def update_volume(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    """Only `shareable` changes: whether a second node may attach the volume."""
    _need_volume_api(call.minor)
    call.identity.enforce(policy.WRITE)
    names = RESOURCE.fields.detail(call.minor)
    with call.services.db.write() as session:
        row = _get(session, ident)
        after = patch.apply({"shareable": row.shareable}, body, updatable=("shareable",))
        value = after.get("shareable")
        if not isinstance(value, bool):
            raise errors.InvalidParameterValue(reason="shareable must be true or false.")
        if not value and len(row.initiators) > 1:
            raise problems.ManagedVolumeShared(volume=row.uuid, nodes=sorted(row.initiators))
        row.shareable = value
        session.flush()
        document = _render(row, _owner_uuid(session, row), names, call.base_url, call.identity)
    return responses.json(document)


@router.delete("/v1/volume/managed/{ident}", status_code=204)
def delete_volume(ident: str, services: Services, minor: Version) -> Response:
    """Delete a volume no node uses (kept or available), its backing file with it."""
    _need_volume_api(minor)
    with services.db.read() as session:
        row = _get(session, ident)
        owner_id = row.node_id

    def change(session: Session, node: Node | None) -> str:
        row = _get(session, ident)
        if row.state == records.VOLUME_ATTACHED or row.initiators:
            raise problems.ManagedVolumeInUse(volume=row.uuid, nodes=sorted(row.initiators))
        path = row.path
        session.delete(row)
        return path

    if owner_id is None:
        with services.db.write() as session:
            path = change(session, None)
    else:
        # The owner's deploy may be attaching the volume right now: wait until it is free.
        path = locking.with_free_node(services, lambda s: nodes.get_by_id(s, owner_id), change)
    Path(path).unlink(missing_ok=True)
    return Response(status_code=204)
