"""Node actions: provision and power state changes, validate, maintenance, boot device.

State changes are accepted here and carried out by a conductor: the request
checks the state table, moves the node to its busy state with the target set
(before answering, so `baremetal ... --wait` never sees a stable state with
no target), queues the job, and answers 202.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors, states
from ironbound.api import locking, problems, responses, sync_jobs
from ironbound.api import microversions as mv
from ironbound.api.deps import BaseUrl, JsonBody, OptionalJsonBody, Services, Version
from ironbound.api.routes.nodes import lookup
from ironbound.api.services import ApiServices
from ironbound.db import jobs, nodes
from ironbound.db.models import Node
from ironbound.jobspec import JobKind

router = APIRouter()

#: Verbs refused while the node is in maintenance (as in Ironic).
_NOT_IN_MAINTENANCE = frozenset({"active", "rebuild", "provide", "clean", "inspect"})
_PROVISION_KEYS = frozenset({"target", "configdrive", "clean_steps"})


def _object(body: Any, what: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise problems.ActionBodyNotObject(what=what)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise problems.UnknownActionFields(unknown=unknown, what=what, allowed=sorted(allowed))
    return body


@router.get("/v1/nodes/{ident}/states")
def get_states(ident: str, services: Services, minor: Version) -> Response:
    with services.db.read() as session:
        node = lookup(session, ident, minor)
        body: dict[str, Any] = {
            "console_enabled": node.console_enabled,
            "last_error": node.last_error,
            "power_state": node.power_state,
            "provision_state": node.provision_state,
            "provision_updated_at": node.provision_updated_at,
            "target_power_state": node.target_power_state,
            "target_provision_state": node.target_provision_state,
        }
        if minor >= mv.RAID:
            body["raid_config"] = node.raid_config
            body["target_raid_config"] = node.target_raid_config
    return responses.json(body)


@router.put("/v1/nodes/{ident}/states/provision", status_code=202)
def set_provision_state(
    ident: str, body: JsonBody, services: Services, minor: Version, base_url: BaseUrl
) -> Response:
    request = _object(body, "provision state", _PROVISION_KEYS)
    verb = request.get("target")
    if not isinstance(verb, str) or verb not in states.VERBS:
        raise problems.InvalidProvisionTarget(target=verb, allowed=sorted(states.VERBS))
    first = min(t.min_version for (name, _), t in states.TRANSITIONS.items() if name == verb)
    if first > minor:
        # As Ironic: a verb the requested version does not have is Not Acceptable.
        raise problems.ProvisionTargetTooNew(verb=verb, version=mv.version_string(first))
    if request.get("configdrive") not in (None, {}, ""):
        raise problems.ConfigdriveUnsupported()
    if verb == "clean":
        raise problems.ManualCleaningUnsupported()
    if "clean_steps" in request:
        raise problems.CleanStepsWithoutClean()

    def change(session: Session, node: Node) -> tuple[str, int | None]:
        transition = states.transition_for(verb, node.provision_state)
        if transition is None or transition.min_version > minor:
            raise errors.InvalidStateRequested(
                action=verb, node=node.uuid, state=node.provision_state
            )
        if verb in _NOT_IN_MAINTENANCE and node.maintenance:
            raise problems.NodeInMaintenance(node=node.uuid, verb=verb)
        nodes.apply_fields(
            node,
            {
                "provision_state": transition.busy or transition.target,
                "target_provision_state": transition.target if transition.busy else None,
                "last_error": None,
            },
        )
        job = jobs.enqueue(session, node.id, transition.job) if transition.job else None
        return node.uuid, job.id if job else None

    node_uuid, job_id = locking.with_free_node(services, lambda s: lookup(s, ident, minor), change)
    if job_id is not None:
        sync_jobs.settle(services, job_id)
    return responses.accepted(f"{base_url}/v1/nodes/{node_uuid}/states")


@router.put("/v1/nodes/{ident}/states/power", status_code=202)
def set_power_state(
    ident: str, body: JsonBody, services: Services, minor: Version, base_url: BaseUrl
) -> Response:
    allowed = frozenset({"target", "timeout"}) if minor >= mv.SOFT_POWER else frozenset({"target"})
    request = _object(body, "power state", allowed)
    target = request.get("target")
    valid = sorted(t for t, since in states.POWER_TARGETS.items() if since <= minor)
    if target not in valid:
        raise problems.InvalidPowerTarget(target=target, allowed=valid)
    timeout = request.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1
    ):
        raise problems.InvalidPowerTimeout()

    def change(session: Session, node: Node) -> tuple[str, int]:
        node.target_power_state = states.POWER_TARGET_AFTER_ACTION.get(str(target), str(target))
        node.last_error = None
        job = jobs.enqueue(session, node.id, JobKind.POWER, {"target": target, "timeout": timeout})
        return node.uuid, job.id

    node_uuid, job_id = locking.with_free_node(services, lambda s: lookup(s, ident, minor), change)
    sync_jobs.settle(services, job_id)
    return responses.accepted(f"{base_url}/v1/nodes/{node_uuid}/states")


@router.put("/v1/nodes/{ident}/states/raid", status_code=204)
def set_raid(ident: str, body: JsonBody, services: Services, minor: Version) -> Response:
    if minor < mv.RAID:
        raise errors.VersionNotSupported()
    disks = body.get("logical_disks") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"logical_disks"} or not isinstance(disks, list):
        raise problems.InvalidRaidConfig()

    def change(session: Session, node: Node) -> None:
        node.target_raid_config = body

    locking.with_free_node(services, lambda s: lookup(s, ident, minor), change)
    return Response(status_code=204)


@router.get("/v1/nodes/{ident}/validate")
def validate_node(ident: str, services: Services, minor: Version) -> Response:
    with services.db.read() as session:
        node_id = lookup(session, ident, minor).id
    return responses.json(sync_jobs.ask(services, node_id, JobKind.VALIDATE))


def _set_maintenance(
    ident: str, services: ApiServices, minor: int, on: bool, reason: str | None
) -> None:
    with services.db.write() as session:
        node = lookup(session, ident, minor)
        node.maintenance = on
        node.maintenance_reason = reason if on else None


@router.put("/v1/nodes/{ident}/maintenance", status_code=202)
def maintenance_on(
    ident: str, services: Services, minor: Version, body: OptionalJsonBody
) -> Response:
    reason = None
    if body is not None:
        _object(body, "maintenance", frozenset({"reason"}))
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise problems.MaintenanceReasonNotText()
    _set_maintenance(ident, services, minor, True, reason)
    return Response(status_code=202)


@router.delete("/v1/nodes/{ident}/maintenance", status_code=202)
def maintenance_off(ident: str, services: Services, minor: Version) -> Response:
    _set_maintenance(ident, services, minor, False, None)
    return Response(status_code=202)


@router.get("/v1/nodes/{ident}/management/boot_device")
def get_boot_device(ident: str, services: Services, minor: Version) -> Response:
    with services.db.read() as session:
        node_id = lookup(session, ident, minor).id
    return responses.json(sync_jobs.ask(services, node_id, JobKind.GET_BOOT_DEVICE))


@router.get("/v1/nodes/{ident}/management/boot_device/supported")
def supported_boot_devices(ident: str, services: Services, minor: Version) -> Response:
    with services.db.read() as session:
        node_id = lookup(session, ident, minor).id
    return responses.json(sync_jobs.ask(services, node_id, JobKind.SUPPORTED_BOOT_DEVICES))


@router.put("/v1/nodes/{ident}/management/boot_device", status_code=204)
def set_boot_device(ident: str, body: JsonBody, services: Services, minor: Version) -> Response:
    request = _object(body, "boot device", frozenset({"boot_device", "persistent"}))
    device = request.get("boot_device")
    persistent = request.get("persistent", False)
    if not isinstance(device, str) or not isinstance(persistent, bool):
        raise problems.InvalidBootDeviceRequest()
    with services.db.read() as session:
        node_id = lookup(session, ident, minor).id
    supported = sync_jobs.ask(services, node_id, JobKind.SUPPORTED_BOOT_DEVICES)[
        "supported_boot_devices"
    ]
    if device not in supported:
        raise problems.UnsupportedBootDevice(device=device, supported=supported)
    sync_jobs.ask(
        services,
        node_id,
        JobKind.SET_BOOT_DEVICE,
        {"boot_device": device, "persistent": persistent},
    )
    return Response(status_code=204)
