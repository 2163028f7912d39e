"""Node actions: provision verbs, power, maintenance, boot device, validate, RAID."""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ironbound.api.services import ApiServices
from ironbound.conductor.worker import Conductor
from ironbound.db.models import Job
from ironbound.drivers.fake import FakeManagement
from tests.api.helpers import (
    IQN,
    add,
    create_connector,
    create_node,
    create_target,
    error,
    force,
    iscsi_properties,
    ok,
    patch,
    power,
    provision,
    to_active,
    v,
)
from tests.conftest import wait_for_state, wait_until

ALL_INTERFACES = {
    "bios",
    "boot",
    "console",
    "deploy",
    "inspect",
    "management",
    "network",
    "power",
    "raid",
    "rescue",
    "storage",
    "vendor",
}


@pytest.fixture
def node(client: TestClient) -> str:
    return str(create_node(client, name="stateful")["uuid"])


def put_provision(client: TestClient, node: str, body: Any, **kwargs: Any) -> Any:
    return client.put(f"/v1/nodes/{node}/states/provision", json=body, **kwargs)


def bfv_node(client: TestClient) -> str:
    """A node set up for the real boot-from-volume path: ipxe, direct, external storage."""
    uuid = str(
        create_node(
            client,
            boot_interface="ipxe",
            deploy_interface="direct",
            storage_interface="external",
            properties={"capabilities": "iscsi_boot:True"},
        )["uuid"]
    )
    ok(client.post("/v1/ports", json={"node_uuid": uuid, "address": "52:54:00:12:34:56"}), 201)
    create_connector(client, uuid)
    create_target(
        client,
        uuid,
        properties=iscsi_properties(auth_method="CHAP", auth_username="ABC", auth_password="XYZ"),
    )
    return uuid


# --- GET /states -----------------------------------------------------------------


def test_states_document(client: TestClient, node: str) -> None:
    states = ok(client.get(f"/v1/nodes/{node}/states"))
    assert states == {
        "console_enabled": False,
        "last_error": None,
        "power_state": None,
        "provision_state": "enroll",
        "provision_updated_at": None,
        "target_power_state": None,
        "target_provision_state": None,
        "raid_config": {},
        "target_raid_config": {},
    }
    assert "raid_config" not in ok(client.get(f"/v1/nodes/{node}/states", headers=v(11)))


def test_states_of_an_unknown_node_is_404(client: TestClient) -> None:
    assert error(client.get("/v1/nodes/ghost/states"), 404) == "Node ghost could not be found."


# --- provision verbs ---------------------------------------------------------------


def test_verb_answers_202_with_location_and_no_body(client: TestClient, node: str) -> None:
    response = put_provision(client, node, {"target": "manage"})
    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["location"] == f"http://127.0.0.1:6385/v1/nodes/{node}/states"
    wait_for_state(client, node, "manageable")


def test_lifecycle_through_every_stable_state(client: TestClient, node: str) -> None:
    provision(client, node, "manage", "manageable")
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert shown["power_state"] == "power off"  # verify read the power state
    assert shown["provision_updated_at"] is not None
    provision(client, node, "provide", "available")
    provision(client, node, "active", "active")
    provision(client, node, "rebuild", "active")
    provision(client, node, "deleted", "available")
    provision(client, node, "manage", "manageable")
    provision(client, node, "inspect", "manageable")
    provision(client, node, "adopt", "active")


def test_quick_transitions_are_done_by_the_202(client: TestClient, node: str) -> None:
    # [api]settle_time: the request waits briefly for its job, so the CLI's
    # first look already sees the result instead of polling again 10 s later.
    for verb, state in (("manage", "manageable"), ("provide", "available")):
        ok(put_provision(client, node, {"target": verb}), 202)
        seen = ok(client.get(f"/v1/nodes/{node}"))
        assert (seen["provision_state"], seen["target_provision_state"]) == (state, None)


@pytest.mark.parametrize("overrides", [{"fake.deploy_delay": 1.5}])
def test_target_provision_state_is_set_before_the_202(client: TestClient, node: str) -> None:
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    provision(client, node, "active")
    seen = ok(client.get(f"/v1/nodes/{node}"))
    assert (seen["provision_state"], seen["target_provision_state"]) == ("deploying", "active")
    assert seen["last_error"] is None
    wait_for_state(client, node, "active")


@pytest.mark.parametrize("overrides", [{"fake.deploy_delay": 1.0, "api.settle_time": 0.0}])
def test_busy_node_answers_409_locked_after_a_short_wait(client: TestClient, node: str) -> None:
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    provision(client, node, "active")
    # As Ironic: a node a conductor holds is "locked" (409), not in a wrong state.
    message = error(put_provision(client, node, {"target": "deleted"}), 409)
    assert message == (
        f"Node {node} is locked by host test-conductor, please retry after the current "
        "operation is completed."
    )
    wait_for_state(client, node, "active")
    provision(client, node, "deleted", "available")


@pytest.mark.parametrize("overrides", [{"fake.deploy_delay": 0.1, "api.settle_time": 0.0}])
def test_short_lock_waits_instead_of_409(client: TestClient, node: str) -> None:
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    provision(client, node, "active")
    # The deploy holds the node for about 0.1 s, less than the API's lock wait
    # (2 x 0.2 s here): the PATCH waits for it instead of answering 409.
    ok(patch(client, f"/v1/nodes/{node}", add("/extra/a", 1)))
    wait_for_state(client, node, "active")


@pytest.mark.parametrize(
    ("state", "verb"),
    [
        ("error", "active"),
        ("enroll", "provide"),
        ("enroll", "active"),
        ("available", "provide"),
        ("active", "active"),
        ("active", "manage"),
        ("manageable", "deleted"),
        ("available", "abort"),
        ("deploy failed", "inspect"),
    ],
)
def test_verb_not_allowed_from_the_state_is_400(
    client: TestClient, services: ApiServices, node: str, state: str, verb: str
) -> None:
    force(services, node, provision_state=state)
    assert error(put_provision(client, node, {"target": verb}), 400) == (
        f'The requested action "{verb}" can not be performed on node "{node}" while it is '
        f'in state "{state}".'
    )
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == state


@pytest.mark.parametrize(
    ("state", "verb", "lands"),
    [
        ("deploy failed", "active", "active"),
        ("deploy failed", "rebuild", "active"),
        ("deploy failed", "deleted", "available"),
        ("error", "deleted", "available"),
        ("clean failed", "manage", "manageable"),
        ("inspect failed", "manage", "manageable"),
        ("inspect failed", "inspect", "manageable"),
        ("adopt failed", "adopt", "active"),
        ("adopt failed", "manage", "manageable"),
        ("available", "manage", "manageable"),
    ],
)
def test_recovery_verbs_from_failed_states(
    client: TestClient, services: ApiServices, node: str, state: str, verb: str, lands: str
) -> None:
    force(services, node, provision_state=state, last_error="it broke")
    provision(client, node, verb, lands)
    assert ok(client.get(f"/v1/nodes/{node}"))["last_error"] is None


@pytest.mark.parametrize(
    ("verb", "state", "first"),
    [("manage", "enroll", 4), ("inspect", "manageable", 6), ("adopt", "manageable", 17)],
)
def test_verb_newer_than_the_version_is_406(
    client: TestClient, services: ApiServices, node: str, verb: str, state: str, first: int
) -> None:
    force(services, node, provision_state=state)
    error(put_provision(client, node, {"target": verb}, headers=v(first - 1)), 406)
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == state
    assert put_provision(client, node, {"target": verb}, headers=v(first)).status_code == 202


def test_abort_newer_than_the_version_is_406(
    client: TestClient, services: ApiServices, node: str
) -> None:
    force(services, node, provision_state="wait call-back")
    error(put_provision(client, node, {"target": "abort"}, headers=v(12)), 406)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"target": "bogus"}, "Invalid provision state target 'bogus'"),
        ({"target": "deploy"}, "Invalid provision state target 'deploy'"),
        ({"target": None}, "Invalid provision state target None"),
        ({}, "Invalid provision state target None"),
        ({"target": "manage", "bogus": 1}, "bogus"),
        (["manage"], "JSON object"),
        ({"target": "clean", "clean_steps": []}, "Manual cleaning"),
        ({"target": "manage", "clean_steps": []}, "clean_steps may only be given"),
    ],
)
def test_bad_provision_requests_are_400(
    client: TestClient, node: str, body: Any, needle: str
) -> None:
    assert needle in error(put_provision(client, node, body), 400)
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == "enroll"


@pytest.mark.parametrize("verb", ["active", "provide", "inspect", "rebuild"])
def test_maintenance_blocks_work_verbs(
    client: TestClient, services: ApiServices, node: str, verb: str
) -> None:
    state = {"active": "available", "provide": "manageable", "inspect": "manageable"}.get(
        verb, "active"
    )
    force(services, node, provision_state=state)
    ok(client.put(f"/v1/nodes/{node}/maintenance", json={"reason": "hands off"}), 202)
    assert "maintenance" in error(put_provision(client, node, {"target": verb}), 400)
    ok(client.delete(f"/v1/nodes/{node}/maintenance"), 202)
    assert put_provision(client, node, {"target": verb}).status_code == 202


def test_provision_unknown_node_is_404(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    assert error(put_provision(client, ghost, {"target": "manage"}), 404) == (
        f"Node {ghost} could not be found."
    )


def test_deploy_waits_for_the_boot_and_abort_fails_it(client: TestClient) -> None:
    node = bfv_node(client)
    validation = ok(client.get(f"/v1/nodes/{node}/validate"))
    assert all(entry["result"] for entry in validation.values()), validation
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    provision(client, node, "active")

    def waiting() -> bool:
        seen = client.get(f"/v1/nodes/{node}").json()
        return bool(seen["provision_state"] == "wait call-back")

    wait_until(waiting, what="wait call-back")
    seen = ok(client.get(f"/v1/nodes/{node}"))
    assert seen["target_provision_state"] == "active"
    assert seen["power_state"] == "power on"
    assert seen["driver_internal_info"]["boot_status"]["status"] == "prepared"
    provision(client, node, "abort")
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == "deploy failed"

    def powered_off() -> bool:
        return bool(client.get(f"/v1/nodes/{node}").json()["power_state"] == "power off")

    wait_until(powered_off, what="the aborted node to power off")
    # From "deploy failed": undeploy, which (as in Ironic) removes the targets.
    provision(client, node, "deleted", "available")
    assert ok(client.get(f"/v1/nodes/{node}/volume/targets")) == {"targets": []}
    assert len(ok(client.get(f"/v1/nodes/{node}/volume/connectors"))["connectors"]) == 1


# --- power ------------------------------------------------------------------------------


def test_power_on_and_off(client: TestClient, node: str) -> None:
    response = client.put(f"/v1/nodes/{node}/states/power", json={"target": "power on"})
    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["location"] == f"http://127.0.0.1:6385/v1/nodes/{node}/states"
    power(client, node, "power on")
    power(client, node, "power off")
    power(client, node, "rebooting")
    assert ok(client.get(f"/v1/nodes/{node}"))["power_state"] == "power on"


@pytest.mark.parametrize("overrides", [{"fake.power_delay": 1.5}])
def test_target_power_state_is_set_before_the_202(client: TestClient, node: str) -> None:
    ok(client.put(f"/v1/nodes/{node}/states/power", json={"target": "soft power off"}), 202)
    assert ok(client.get(f"/v1/nodes/{node}/states"))["target_power_state"] is not None
    _wait_power_settled(client, node, "power off")


def _wait_power_settled(client: TestClient, node: str, state: str) -> None:
    def done() -> bool:
        seen = client.get(f"/v1/nodes/{node}").json()
        return bool(seen["power_state"] == state and seen["target_power_state"] is None)

    wait_until(done, what=f"power state {state}")


@pytest.mark.parametrize("overrides", [{"fake.power_delay": 1.0, "api.settle_time": 0.0}])
@pytest.mark.parametrize(
    ("action", "target"), [("soft power off", "power off"), ("rebooting", "power on")]
)
def test_target_power_state_while_the_action_runs(
    client: TestClient, node: str, action: str, target: str
) -> None:
    ok(client.put(f"/v1/nodes/{node}/states/power", json={"target": action}), 202)

    def running() -> bool:
        return client.get(f"/v1/nodes/{node}").json()["reservation"] is not None

    wait_until(running, what="the conductor to take the node")
    time.sleep(0.3)  # well inside the fake BMC's one-second action
    try:
        assert ok(client.get(f"/v1/nodes/{node}"))["target_power_state"] == target
    finally:
        _wait_power_settled(client, node, target)


def test_soft_power_needs_1_27(client: TestClient, node: str) -> None:
    url = f"/v1/nodes/{node}/states/power"
    assert "soft power off" in error(
        client.put(url, json={"target": "soft power off"}, headers=v(26)), 400
    )
    assert "timeout" in error(
        client.put(url, json={"target": "power off", "timeout": 10}, headers=v(26)), 400
    )
    ok(client.put(url, json={"target": "soft power off", "timeout": 10}, headers=v(27)), 202)
    wait_until(lambda: client.get(f"/v1/nodes/{node}").json()["power_state"] == "power off")


@pytest.mark.parametrize(
    "body",
    [
        {"target": "off"},
        {"target": None},
        {},
        {"target": "power on", "timeout": 0},
        {"target": "power on", "timeout": "10"},
        {"target": "power on", "timeout": True},
        {"target": "power on", "extra": 1},
        "power on",
    ],
)
def test_bad_power_requests_are_400(client: TestClient, node: str, body: Any) -> None:
    error(client.put(f"/v1/nodes/{node}/states/power", json=body), 400)


def test_power_unknown_node_is_404(client: TestClient) -> None:
    error(client.put("/v1/nodes/ghost/states/power", json={"target": "power on"}), 404)


# --- maintenance ----------------------------------------------------------------------------


def test_maintenance_on_and_off(client: TestClient, node: str) -> None:
    response = client.put(f"/v1/nodes/{node}/maintenance", json={"reason": "disk swap"})
    assert response.status_code == 202
    assert response.content == b""
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert (shown["maintenance"], shown["maintenance_reason"]) == (True, "disk swap")
    assert client.delete(f"/v1/nodes/{node}/maintenance").status_code == 202
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert (shown["maintenance"], shown["maintenance_reason"]) == (False, None)


def test_maintenance_without_a_body(client: TestClient, node: str) -> None:
    ok(client.put("/v1/nodes/stateful/maintenance"), 202)
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert (shown["maintenance"], shown["maintenance_reason"]) == (True, None)


@pytest.mark.parametrize("body", [{"reason": 5}, {"why": "x"}])
def test_bad_maintenance_requests_are_400(client: TestClient, node: str, body: Any) -> None:
    error(client.put(f"/v1/nodes/{node}/maintenance", json=body), 400)
    assert ok(client.get(f"/v1/nodes/{node}"))["maintenance"] is False


def test_maintenance_of_an_unknown_node_is_404(client: TestClient) -> None:
    error(client.put("/v1/nodes/ghost/maintenance", json={}), 404)
    error(client.delete("/v1/nodes/ghost/maintenance"), 404)


# --- boot device ----------------------------------------------------------------------------


def test_boot_device(client: TestClient, node: str) -> None:
    url = f"/v1/nodes/{node}/management/boot_device"
    assert ok(client.get(url)) == {"boot_device": "pxe", "persistent": False}
    supported = ok(client.get(f"{url}/supported"))
    assert supported == {"supported_boot_devices": ["pxe", "disk", "cdrom", "bios", "safe"]}
    response = client.put(url, json={"boot_device": "disk", "persistent": True})
    assert response.status_code == 204
    assert ok(client.get(url)) == {"boot_device": "disk", "persistent": True}
    ok(client.put(url, json={"boot_device": "cdrom"}), 204)
    assert ok(client.get(url)) == {"boot_device": "cdrom", "persistent": False}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"boot_device": "floppy"}, "Invalid boot device floppy"),
        ({"boot_device": "pxe", "persistent": "yes"}, "persistent"),
        ({"boot_device": 1}, "boot_device"),
        ({}, "boot_device"),
        ({"boot_device": "pxe", "bogus": 1}, "bogus"),
    ],
)
def test_bad_boot_device_requests_are_400(
    client: TestClient, node: str, body: Any, needle: str
) -> None:
    response = client.put(f"/v1/nodes/{node}/management/boot_device", json=body)
    assert needle in error(response, 400)


def test_boot_device_of_an_unknown_node_is_404(client: TestClient) -> None:
    error(client.get("/v1/nodes/ghost/management/boot_device"), 404)
    error(client.get("/v1/nodes/ghost/management/boot_device/supported"), 404)
    error(client.put("/v1/nodes/ghost/management/boot_device", json={"boot_device": "pxe"}), 404)


# --- validate -----------------------------------------------------------------------------------


def test_validate_has_every_interface(client: TestClient, node: str) -> None:
    validation = ok(client.get(f"/v1/nodes/{node}/validate"))
    assert set(validation) == ALL_INTERFACES
    assert all(entry == {"result": True, "reason": None} for entry in validation.values())


def test_validate_storage_without_an_iqn_connector(client: TestClient, node: str) -> None:
    url = f"/v1/nodes/{node}"
    ok(patch(client, url, add("/storage_interface", "cinder")))
    ok(patch(client, url, add("/properties/capabilities", "iscsi_boot:True")))
    create_target(client, node)
    validation = ok(client.get(f"{url}/validate"))
    assert validation["storage"] == {
        "result": False,
        "reason": f"Failed to validate cinder storage interface for node {node}. In order to "
        "enable the 'iscsi_boot' capability for the node, an associated volume_connector "
        "type must be valid for iSCSI (iqn).",
    }
    create_connector(client, node, "iqn", IQN)
    # Past the connector checks, validate asks Cinder about the volume (none is configured).
    storage = ok(client.get(f"{url}/validate"))["storage"]
    assert storage["result"] is False
    assert "[cinder]auth_type is not set" in storage["reason"]


def test_validate_ipxe_without_a_port(client: TestClient) -> None:
    node = create_node(client, boot_interface="ipxe")["uuid"]
    boot = ok(client.get(f"/v1/nodes/{node}/validate"))["boot"]
    assert boot["result"] is False
    assert f"Node {node} does not have any port associated with it" in boot["reason"]


def test_validate_external_storage_needs_target_properties(client: TestClient) -> None:
    node = bfv_node(client)
    extra = create_target(client, node, boot_index=1)
    storage = ok(client.get(f"/v1/nodes/{node}/validate"))["storage"]
    assert storage["result"] is False
    assert extra["uuid"] in storage["reason"]
    assert "target_iqn" in storage["reason"]


def test_validate_unknown_node_is_404(client: TestClient) -> None:
    error(client.get("/v1/nodes/ghost/validate"), 404)


def test_deploy_refuses_an_invalid_node(client: TestClient) -> None:
    node = create_node(client, boot_interface="ipxe", deploy_interface="direct")["uuid"]
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    provision(client, node, "active")

    def failed() -> bool:
        return bool(client.get(f"/v1/nodes/{node}").json()["provision_state"] == "deploy failed")

    wait_until(failed, what="deploy failed")
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert "validate failed" in shown["last_error"]
    assert shown["target_provision_state"] is None


# --- RAID --------------------------------------------------------------------------------------


def test_raid_config(client: TestClient, node: str) -> None:
    body = {"logical_disks": [{"size_gb": 100, "raid_level": "1", "is_root_volume": True}]}
    url = f"/v1/nodes/{node}/states/raid"
    assert client.put(url, json=body).status_code == 204
    assert ok(client.get(f"/v1/nodes/{node}/states"))["target_raid_config"] == body
    error(client.put(url, json=body, headers=v(11)), 404)
    error(client.put(url, json={"logical_disks": "all"}), 400)
    error(client.put(url, json={"logical_disks": [], "x": 1}), 400)


# --- active nodes and the power state ---------------------------------------------------------


def test_active_node_power_cycle(client: TestClient, node: str) -> None:
    to_active(client, node)
    power(client, node, "power off")
    power(client, node, "power on")
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == "active"


def test_node_deleted_while_validate_waits_is_404_not_a_timeout(
    client: TestClient, services: ApiServices, conductor: Conductor
) -> None:
    # With no conductor running, the validate job waits in the queue while
    # its node is deleted (and its job with it).
    doomed = create_node(client)["uuid"]
    conductor.stop()
    answers: list[Any] = []
    waiter = threading.Thread(
        target=lambda: answers.append(client.get(f"/v1/nodes/{doomed}/validate"))
    )
    started = time.monotonic()
    waiter.start()
    wait_until(lambda: _queued_jobs(services, "validate") == 1, what="the queued validate")
    assert client.delete(f"/v1/nodes/{doomed}").status_code == 204
    waiter.join(30)
    assert time.monotonic() - started < 10
    assert "deleted" in error(answers[0], 404)
    conductor.start()


def _queued_jobs(services: ApiServices, kind: str) -> int:
    with services.db.read() as session:
        return len(list(session.scalars(select(Job).where(Job.kind == kind))))


# --- rescue and unrescue (1.38): no rescue ramdisk, so Ironic's no-rescue refusal ---------


def test_rescue_is_refused_as_ironic_refuses_no_rescue(
    client: TestClient, services: ApiServices, node: str
) -> None:
    force(services, node, provision_state="active", instance_uuid=str(uuidlib.uuid4()))
    body = {"target": "rescue", "rescue_password": "s3cret"}
    message = error(put_provision(client, node, body, headers=v(38)), 400)
    assert "Failed to rescue instance" in message and node in message
    assert "does not support rescue" in message
    seen = ok(client.get(f"/v1/nodes/{node}"))
    assert seen["provision_state"] == "active" and seen["target_provision_state"] is None
    assert "rescue_password" not in seen["instance_info"]
    with services.db.read() as session:
        assert session.scalars(select(Job)).all() == []


@pytest.mark.parametrize(
    ("body", "state", "status", "needle"),
    [
        ({"target": "rescue", "rescue_password": "x"}, "active", 406, "1.38"),
        ({"target": "unrescue"}, "active", 406, "1.38"),
    ],
)
def test_rescue_verbs_are_unknown_below_1_38(
    client: TestClient,
    services: ApiServices,
    node: str,
    body: dict[str, Any],
    state: str,
    status: int,
    needle: str,
) -> None:
    force(services, node, provision_state=state)
    assert needle in error(put_provision(client, node, body, headers=v(37)), status)


@pytest.mark.parametrize(
    ("body", "state", "needle"),
    [
        ({"target": "rescue", "rescue_password": "x"}, "available", "can not be performed"),
        ({"target": "rescue"}, "active", 'A non-empty "rescue_password" is required'),
        ({"target": "rescue", "rescue_password": "  "}, "active", "non-empty"),
        ({"target": "rescue", "rescue_password": 5}, "active", "rescue_password must be a string"),
        ({"target": "unrescue"}, "active", "can not be performed on node"),
        ({"target": "deleted", "rescue_password": "x"}, "active", "only valid when setting"),
    ],
)
def test_rescue_request_errors(
    client: TestClient,
    services: ApiServices,
    node: str,
    body: dict[str, Any],
    state: str,
    needle: str,
) -> None:
    force(services, node, provision_state=state)
    assert needle in error(put_provision(client, node, body, headers=v(38)), 400)
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == state


def test_rescue_in_maintenance_says_so(
    client: TestClient, services: ApiServices, node: str
) -> None:
    force(services, node, provision_state="active", maintenance=True)
    body = {"target": "rescue", "rescue_password": "x"}
    assert "maintenance" in error(put_provision(client, node, body, headers=v(38)), 400)


def test_inspect_wait_is_inspecting_below_1_39(
    client: TestClient, services: ApiServices, node: str
) -> None:
    force(services, node, provision_state="inspect wait")
    assert ok(client.get(f"/v1/nodes/{node}", headers=v(38)))["provision_state"] == "inspecting"
    assert ok(client.get(f"/v1/nodes/{node}/states", headers=v(38)))["provision_state"] == (
        "inspecting"
    )
    assert ok(client.get(f"/v1/nodes/{node}", headers=v(39)))["provision_state"] == "inspect wait"


# --- inject NMI (1.29) and the console ------------------------------------------------


def test_inject_nmi_reaches_the_management_interface(client: TestClient, node: str) -> None:
    response = client.put(f"/v1/nodes/{node}/management/inject_nmi", json={})
    assert response.status_code == 204, response.text
    assert response.content == b""
    progress = ok(client.get(f"/v1/nodes/{node}"))["driver_internal_info"]["progress"]
    assert "inject NMI: done" in progress
    assert client.put(f"/v1/nodes/{node}/management/inject_nmi").status_code == 204


def test_inject_nmi_needs_1_29(client: TestClient, node: str) -> None:
    error(client.put(f"/v1/nodes/{node}/management/inject_nmi", json={}, headers=v(28)), 404)


def test_inject_nmi_refusals(client: TestClient, node: str) -> None:
    url = f"/v1/nodes/{node}/management/inject_nmi"
    assert "takes no arguments" in error(client.put(url, json={"now": True}), 400)
    error(client.put(f"/v1/nodes/{uuidlib.uuid4()}/management/inject_nmi", json={}), 404)


def test_inject_nmi_a_driver_cannot_do_is_400(
    client: TestClient, node: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An interface without an NMI of its own gets the base class's refusal: Ironic's 400.
    monkeypatch.delattr(FakeManagement, "inject_nmi")
    message = error(client.put(f"/v1/nodes/{node}/management/inject_nmi", json={}), 400)
    assert message == (
        "Driver fake-hardware does not support inject_nmi (disabled or not implemented)."
    )


def test_console_is_never_enabled(client: TestClient, node: str) -> None:
    url = f"/v1/nodes/{node}/states/console"
    assert ok(client.get(url)) == {"console_enabled": False, "console_info": None}
    for enabled in (True, False):
        message = error(client.put(url, json={"enabled": enabled}), 400)
        assert message.startswith(
            "Driver fake-hardware does not support console (disabled or not implemented)."
        )
    assert "enabled" in error(client.put(url, json={"enabled": "sometimes"}), 400)
    assert "enabled" in error(client.put(url, json={}), 400)
    assert ok(client.get(f"/v1/nodes/{node}"))["console_enabled"] is False
