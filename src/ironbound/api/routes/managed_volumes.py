"""/v1/volume/managed: the boot volumes Ironbound stores itself (the `managed` storage interface).

Ironic has no such resource; it follows the conventions of the volume
connectors and targets beside it: `limit`, `marker`, `sort_key`, `sort_dir`,
`fields`, `detail` and a `node` filter, the `next` link, Ironic's error
envelope. CHAP passwords are always `******` (responses never open a seal);
callers without the target-properties policy see the usernames masked too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors, records, sensitive
from ironbound.api import listing, patch, policy, problems, responses, subresources, writes
from ironbound.api.deps import Call, CurrentCall, JsonBody
from ironbound.api.microversions import VOLUME
from ironbound.db import any_table, nodes
from ironbound.db.models import ManagedVolume

router = APIRouter()

_FIELDS = (
    "uuid", "node_uuid", "state", "size_bytes", "shareable", "image", "target_iqn", "lun",
    "initiators", "auth_username", "auth_password", "reverse_auth_username",
    "reverse_auth_password", "path", "created_at", "updated_at", "links",
)  # fmt: skip
_SECRET = frozenset({"auth_password", "reverse_auth_password"})
_NAMES = frozenset({"auth_username", "reverse_auth_username"})


def _masked_passwords(
    session: Session, rows: Sequence[subresources.SubresourceRecord]
) -> list[dict[str, Any]]:
    """The CHAP passwords as documents show them: `******` where one is set (the rows
    hold only the sealed secrets, which a response never opens)."""
    return [
        {
            name: sensitive.MASK if getattr(row, name.replace("password", "username")) else None
            for name in _SECRET
        }
        for row in rows
    ]


def _mask_usernames(
    row: subresources.SubresourceRecord, out: dict[str, Any], identity: policy.Identity
) -> None:
    """Callers without the target-properties policy see the CHAP usernames masked too."""
    if identity.allowed(policy.VIEW_TARGET_PROPERTIES):
        return
    for name in _NAMES & out.keys():
        out[name] = sensitive.MASK if out[name] else None


RESOURCE = subresources.Subresource(
    collection="volume/managed",
    list_key="volumes",
    fields=listing.FieldTable(
        {name: VOLUME for name in _FIELDS},
        ("uuid", "node_uuid", "state", "size_bytes", "shareable", "links"),
    ),
    sortable=frozenset({"id", "uuid", "state", "size_bytes", "created_at", "updated_at"}),
    model=ManagedVolume,
    uuid_field="volume_uuid",
    not_found=lambda ident: problems.ManagedVolumeNotFound(volume=ident),
    finish=_mask_usernames,
    relate=_masked_passwords,
)


def _render(session: Session, row: ManagedVolume, names: tuple[str, ...], call: Call) -> Any:
    return subresources.render(
        RESOURCE,
        row,
        subresources.node_uuid_of(session, row),
        names,
        call.base_url,
        call.identity,
        subresources.related(session, RESOURCE, [row])[0],
    )


def _need_volume_api(minor: int) -> None:
    if minor < VOLUME:
        raise problems.ResourceNotFound()


def _get(session: Session, ident: str) -> ManagedVolume:
    row = subresources.get(session, RESOURCE, ident)
    assert isinstance(row, ManagedVolume)
    return row


@router.get("/v1/volume/managed")
@router.get("/v1/volume/managed/", include_in_schema=False)
def list_volumes(call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    return subresources.list_page(
        call, RESOURCE, filters={"node": subresources.by_node}, detail_since=1
    )


@router.get("/v1/volume/managed/{ident}")
def show_volume(ident: str, call: CurrentCall) -> Response:
    _need_volume_api(call.minor)
    return subresources.show(call, RESOURCE, ident)


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
        any_table.store(session)
        document = _render(session, row, names, call)
    return responses.json(document)


@router.delete("/v1/volume/managed/{ident}", status_code=204)
def delete_volume(ident: str, call: CurrentCall) -> Response:
    """Delete a volume no node uses (kept or available), its backing file with it."""
    _need_volume_api(call.minor)
    with call.services.db.read() as session:
        owner_id = _get(session, ident).node_id
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            if owner_id is not None:
                # The owner's deploy may be attaching the volume right now: wait until it is free.
                writes.hold(session, nodes.get_by_id(session, owner_id))
            row = _get(session, ident)
            if row.state == records.VOLUME_ATTACHED or row.initiators:
                raise problems.ManagedVolumeInUse(volume=row.uuid, nodes=sorted(row.initiators))
            path = row.path
            any_table.remove(session, row)
    Path(path).unlink(missing_ok=True)
    return Response(status_code=204)
