"""Node actions: provision and power state changes, validate, maintenance, boot device.

State changes are accepted here and carried out by a conductor: the request
checks the state table, moves the node to its busy state with the target set
(before answering, so `baremetal ... --wait` never sees a stable state with
no target), queues the job, and answers 202.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import configdrive, errors, sensitive, states
from ironbound.api import driver_checks, lookups, no_query, problems, responses, sync_jobs, writes
from ironbound.api import microversions as mv
from ironbound.api.deps import CurrentCall, JsonBody, OptionalJsonBody
from ironbound.api.schemas import actions
from ironbound.api.services import ApiServices
from ironbound.api.views import node as view
from ironbound.db import jobs, nodes
from ironbound.jobspec import BootDevice, JobKind, Power, Provision

router = APIRouter()

#: Verbs refused while the node is in maintenance (as in Ironic).
_NOT_IN_MAINTENANCE = frozenset({"active", "rebuild", "provide", "clean", "inspect"})


@router.get("/v1/nodes/{ident}/states", dependencies=[no_query.NONE])
def get_states(ident: str, call: CurrentCall) -> Response:
    with call.services.db.read() as session:
        node = lookups.node(session, ident, call.minor)
        body: dict[str, Any] = {
            "console_enabled": node.console_enabled,
            "last_error": node.last_error,
            "power_state": node.power_state,
            "provision_state": view.provision_state(node.provision_state, call.minor),
            "provision_updated_at": node.provision_updated_at,
            "target_power_state": node.target_power_state,
            "target_provision_state": node.target_provision_state,
        }
        if call.minor >= mv.RAID:
            body["raid_config"] = node.raid_config
            body["target_raid_config"] = node.target_raid_config
    return responses.json(body)


def _config_drive(verb: str, minor: int, value: Any) -> configdrive.Stored | None:
    """What the request's configdrive stores (None: no config drive), refused in Ironic's
    order: a verb that takes none, then the value's shape, then what its version allows."""
    if configdrive.is_empty(value):
        return None
    allowed = ["active", "rebuild"] if minor >= mv.REBUILD_CONFIGDRIVE else ["active"]
    if verb not in allowed:
        raise problems.ConfigdriveWrongTarget(allowed=allowed)
    stored = configdrive.check(value)
    if isinstance(stored, dict):
        if minor < mv.BUILD_CONFIGDRIVE:
            raise problems.ConfigdriveObjectTooNew(version=mv.version_string(mv.BUILD_CONFIGDRIVE))
        if "vendor_data" in stored and minor < mv.CONFIGDRIVE_VENDOR_DATA:
            raise problems.ConfigdriveVendorDataTooNew(
                version=mv.version_string(mv.CONFIGDRIVE_VENDOR_DATA)
            )
    return stored


def _with_config_drive(
    services: ApiServices, session: Session, node: nodes.Changing, stored: configdrive.Stored
) -> dict[str, Any]:
    """The instance_info fields that store `stored` as instance_info/configdrive: masked in
    the document, sealed with the node's other instance secrets (it replaces any before)."""
    info, sealed = nodes.instance_info(session, node)
    masked, secrets = sensitive.split(
        {**info, configdrive.KEY: stored}, services.box.open(sealed), info
    )
    return {"instance_info": masked, "instance_secrets": services.box.seal(secrets)}


def _refuse_unsupported(
    services: ApiServices, ident: str, minor: int, request: actions.ProvisionRequest
) -> None:
    """Answer rescue and unrescue as Ironic does for a node whose rescue interface is
    `no-rescue`: the state and password checks first, then the driver's refusal.

    Nothing is written: the node keeps its state and no password is stored.
    """
    verb = request.target
    with services.db.read() as session:
        node = lookups.node(session, ident, minor)
        if node.provision_state not in states.UNSUPPORTED[verb].sources:
            raise errors.InvalidStateRequested(
                action=verb, node=node.uuid, state=node.provision_state
            )
        if not (request.rescue_password or "").strip():
            raise problems.RescuePasswordMissing()
        if node.maintenance:
            raise problems.NodeInMaintenance(node=node.uuid, verb=verb)
        raise problems.RescueUnsupported(
            instance=node.instance_uuid, node=node.uuid, driver=node.driver
        )


def _call_off(services: ApiServices, ident: str, minor: int, verb: str) -> tuple[str, int] | None:
    """Queue a verb that calls off the node's running flow (abort while deploying) without
    waiting for the lock that flow holds; None when the node's state has no such verb.

    The job is queued once however often the verb is sent; the running flow looks for it.
    """
    with services.db.write() as session:
        node = lookups.node_for_change(session, ident, minor)
        transition = states.transition_for(verb, node.provision_state)
        if transition is None or not transition.calls_off or transition.min_version > minor:
            return None
        assert transition.job is not None
        driver_checks.require_conductor(services, node)
        queued = jobs.pending_id(session, node.id, transition.job)
        if queued is not None:
            return node.uuid, queued
        return node.uuid, jobs.enqueue(session, node.id, transition.job, Provision(verb))


@router.put("/v1/nodes/{ident}/states/provision", status_code=202)
def set_provision_state(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    request = actions.read(actions.ProvisionRequest, body, call.minor)
    verb = request.target
    first = states.first_version(verb)
    if first > call.minor:
        # As Ironic: a verb the requested version does not have is Not Acceptable.
        raise problems.ProvisionTargetTooNew(verb=verb, version=mv.version_string(first))
    stored = _config_drive(verb, call.minor, request.configdrive)
    if request.rescue_password is not None and verb != "rescue":
        raise problems.RescuePasswordWithoutRescue()
    if verb in states.UNSUPPORTED:
        _refuse_unsupported(call.services, ident, call.minor, request)
    if verb == "clean":
        raise problems.ManualCleaningUnsupported()
    if "clean_steps" in request.model_fields_set:
        raise problems.CleanStepsWithoutClean()

    called_off = _call_off(call.services, ident, call.minor, verb)
    if called_off is not None:
        sync_jobs.settle(call.services, called_off[1])
        return responses.accepted(f"{call.base_url}/v1/nodes/{called_off[0]}/states")

    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.free(session, lookups.node_for_change(session, ident, call.minor))
            transition = _transition(call.services, node, verb, call.minor)
            nodes.write_fields(
                session,
                node,
                {
                    "provision_state": transition.busy or transition.target,
                    "target_provision_state": transition.target if transition.busy else None,
                    "last_error": None,
                    # As Ironic: a rebuild without a config drive keeps the one stored before.
                    **(
                        {}
                        if stored is None
                        else _with_config_drive(call.services, session, node, stored)
                    ),
                },
            )
            job_id = (
                jobs.enqueue(session, node.id, transition.job, Provision(verb))
                if transition.job
                else None
            )
    if job_id is not None:
        sync_jobs.settle(call.services, job_id)
    return responses.accepted(f"{call.base_url}/v1/nodes/{node.uuid}/states")


def _transition(
    services: ApiServices, node: nodes.Changing, verb: str, minor: int
) -> states.Transition:
    """The transition `verb` makes from the node's state, if the node may make it now."""
    transition = states.transition_for(verb, node.provision_state)
    if transition is None or transition.min_version > minor:
        raise errors.InvalidStateRequested(action=verb, node=node.uuid, state=node.provision_state)
    if verb in states.PROTECTED_VERBS and node.protected:
        raise problems.NodeProtected(node=node.uuid)
    if verb in _NOT_IN_MAINTENANCE and node.maintenance:
        raise problems.NodeInMaintenance(node=node.uuid, verb=verb)
    if transition.job is not None:
        driver_checks.require_conductor(services, node)
    return transition


@router.put("/v1/nodes/{ident}/states/power", status_code=202)
def set_power_state(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    model = actions.SoftPowerRequest if call.minor >= mv.SOFT_POWER else actions.PowerRequest
    request = actions.read(model, body, call.minor)
    target = request.target
    timeout = request.timeout if isinstance(request, actions.SoftPowerRequest) else None

    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.free(session, lookups.node_for_change(session, ident, call.minor))
            driver_checks.require_conductor(call.services, node)
            after = states.POWER_TARGET_AFTER_ACTION.get(target, target)
            nodes.write_fields(session, node, {"target_power_state": after, "last_error": None})
            job_id = jobs.enqueue(session, node.id, JobKind.POWER, Power(target, timeout))
    sync_jobs.settle(call.services, job_id)
    return responses.accepted(f"{call.base_url}/v1/nodes/{node.uuid}/states")


@router.put("/v1/nodes/{ident}/states/raid", status_code=204)
def set_raid(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    if call.minor < mv.RAID:
        raise errors.VersionNotSupported()
    disks = actions.read(actions.RaidRequest, body, call.minor).logical_disks

    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            node = writes.hold(session, lookups.node(session, ident, call.minor))
            node.target_raid_config = {"logical_disks": disks}
    return Response(status_code=204)


def _node_id(services: ApiServices, ident: str, minor: int) -> int:
    with services.db.read() as session:
        return lookups.node(session, ident, minor).id


async def _ask(services: ApiServices, ident: str, minor: int, kind: JobKind) -> dict[str, Any]:
    """The conductor's answer about the node `ident`, awaited off the threadpool (see `ask`)."""
    node_id = await to_thread.run_sync(_node_id, services, ident, minor)
    return await sync_jobs.ask(services, node_id, kind)


@router.get("/v1/nodes/{ident}/validate", dependencies=[no_query.NONE])
async def validate_node(ident: str, call: CurrentCall) -> Response:
    return responses.json(await _ask(call.services, ident, call.minor, JobKind.VALIDATE))


def _set_maintenance(
    ident: str, services: ApiServices, minor: int, on: bool, reason: str | None
) -> None:
    with services.db.write() as session:
        node = lookups.node(session, ident, minor)
        node.maintenance = on
        node.maintenance_reason = reason if on else None
        if not on:
            # As Ironic: the fault that put the node into maintenance goes with it.
            node.fault = None


@router.put("/v1/nodes/{ident}/maintenance", status_code=202)
def maintenance_on(ident: str, body: OptionalJsonBody, call: CurrentCall) -> Response:
    reason = (
        None if body is None else actions.read(actions.MaintenanceRequest, body, call.minor).reason
    )
    _set_maintenance(ident, call.services, call.minor, True, reason)
    return Response(status_code=202)


@router.delete("/v1/nodes/{ident}/maintenance", status_code=202)
def maintenance_off(ident: str, call: CurrentCall) -> Response:
    _set_maintenance(ident, call.services, call.minor, False, None)
    return Response(status_code=202)


@router.get("/v1/nodes/{ident}/management/boot_device", dependencies=[no_query.NONE])
async def get_boot_device(ident: str, call: CurrentCall) -> Response:
    return responses.json(await _ask(call.services, ident, call.minor, JobKind.GET_BOOT_DEVICE))


@router.get("/v1/nodes/{ident}/management/boot_device/supported", dependencies=[no_query.NONE])
async def supported_boot_devices(ident: str, call: CurrentCall) -> Response:
    return responses.json(
        await _ask(call.services, ident, call.minor, JobKind.SUPPORTED_BOOT_DEVICES)
    )


@router.put("/v1/nodes/{ident}/management/boot_device", status_code=204)
async def set_boot_device(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    request = actions.read(actions.BootDeviceRequest, body, call.minor)
    device, persistent = request.boot_device, request.persistent
    node_id = await to_thread.run_sync(_node_id, call.services, ident, call.minor)
    supported = (await sync_jobs.ask(call.services, node_id, JobKind.SUPPORTED_BOOT_DEVICES))[
        "supported_boot_devices"
    ]
    if device not in supported:
        raise problems.UnsupportedBootDevice(device=device, supported=supported)
    await sync_jobs.ask(
        call.services,
        node_id,
        JobKind.SET_BOOT_DEVICE,
        BootDevice(device, persistent),
    )
    return Response(status_code=204)


@router.put("/v1/nodes/{ident}/management/inject_nmi", status_code=204)
async def inject_nmi(ident: str, body: OptionalJsonBody, call: CurrentCall) -> Response:
    """Inject an NMI through the node's management interface (1.29), answered by a conductor."""
    if call.minor < mv.INJECT_NMI:
        raise errors.VersionNotSupported()
    if body not in (None, {}):
        raise problems.NmiBodyNotEmpty()
    answer = await _ask(call.services, ident, call.minor, JobKind.INJECT_NMI)
    if "unsupported" in answer:
        raise problems.NmiUnsupported(reason=answer["unsupported"])
    return Response(status_code=204)


@router.get("/v1/nodes/{ident}/states/console", dependencies=[no_query.NONE])
def get_console(ident: str, call: CurrentCall) -> Response:
    """What Ironic answers for a console that is not enabled: every node's, here."""
    with call.services.db.read() as session:
        node = lookups.node(session, ident, call.minor)
        return responses.json({"console_enabled": node.console_enabled, "console_info": None})


@router.put("/v1/nodes/{ident}/states/console", status_code=202)
def set_console(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    """Refused as Ironic refuses a node whose console interface is no-console (either way)."""
    actions.read(actions.ConsoleRequest, body, call.minor)
    with call.services.db.read() as session:
        node = lookups.node(session, ident, call.minor)
        raise problems.ConsoleUnsupported(driver=node.driver)
