"""/v1/nodes/{node}/vifs (1.28), the instance reservation, and Nova's destroy path."""

from __future__ import annotations

import uuid as uuidlib

import pytest
from fastapi.testclient import TestClient

from ironbound import errors
from ironbound.drivers.fake import FakeDeploy
from tests.api.helpers import (
    add,
    create_node,
    create_target,
    error,
    iscsi_properties,
    ok,
    patch,
    provision,
    replace,
    to_active,
    v,
)

VIF = str(uuidlib.UUID(int=0xA1))
VIF2 = str(uuidlib.UUID(int=0xA2))


@pytest.fixture
def node(client: TestClient) -> str:
    return str(create_node(client, name="nova-node")["uuid"])


def add_port(client: TestClient, node: str, mac: str, **fields: object) -> dict[str, object]:
    body = {"node_uuid": node, "address": mac, **fields}
    return dict(ok(client.post("/v1/ports", json=body), 201))


def vifs(client: TestClient, node: str) -> list[str]:
    return [item["id"] for item in ok(client.get(f"/v1/nodes/{node}/vifs"))["vifs"]]


def attach(client: TestClient, node: str, vif: str) -> object:
    return client.post(f"/v1/nodes/{node}/vifs", json={"id": vif})


def test_attach_list_detach(client: TestClient, node: str) -> None:
    port = add_port(client, node, "52:54:00:00:00:01")
    assert vifs(client, node) == []
    ok(attach(client, node, VIF), 204)
    assert vifs(client, "nova-node") == [VIF]
    stored = ok(client.get(f"/v1/ports/{port['uuid']}"))["internal_info"]
    assert stored == {"tenant_vif_port_id": VIF}
    assert "already attached" in error(attach(client, node, VIF), 409)
    ok(client.delete(f"/v1/nodes/{node}/vifs/{VIF}"), 204)
    assert vifs(client, node) == []
    assert ok(client.get(f"/v1/ports/{port['uuid']}"))["internal_info"] == {}
    assert "not attached" in error(client.delete(f"/v1/nodes/{node}/vifs/{VIF}"), 400)


def test_no_free_port(client: TestClient, node: str) -> None:
    # Ironic answers 400 here (NoFreePhysicalPorts): Nova treats it as fatal, as it should.
    assert "not enough free physical ports" in error(attach(client, node, VIF), 400)
    add_port(client, node, "52:54:00:00:00:01")
    ok(attach(client, node, VIF), 204)
    error(attach(client, node, VIF2), 400)


def test_pxe_ports_first_then_groups(client: TestClient, node: str) -> None:
    plain = add_port(client, node, "52:54:00:00:00:01", pxe_enabled=False)
    pxe = add_port(client, node, "52:54:00:00:00:02")
    ok(attach(client, node, VIF), 204)
    assert ok(client.get(f"/v1/ports/{pxe['uuid']}"))["internal_info"]["tenant_vif_port_id"] == VIF
    ok(attach(client, node, VIF2), 204)
    info = ok(client.get(f"/v1/ports/{plain['uuid']}"))["internal_info"]
    assert info["tenant_vif_port_id"] == VIF2


def test_group_with_ports_takes_the_vif(client: TestClient, node: str) -> None:
    group = ok(client.post("/v1/portgroups", json={"node_uuid": node, "name": "bond0"}), 201)
    add_port(client, node, "52:54:00:00:00:01", portgroup_uuid=group["uuid"])
    ok(attach(client, node, VIF), 204)
    shown = ok(client.get(f"/v1/portgroups/{group['uuid']}"))
    assert shown["internal_info"] == {"tenant_vif_portgroup_id": VIF}
    # The group's member port is not free on its own.
    error(attach(client, node, VIF2), 400)
    assert vifs(client, node) == [VIF]


@pytest.mark.parametrize(
    "body",
    [{}, {"id": ""}, {"id": 5}, {"id": "a/b"}, {"id": "x" * 256}, {"id": VIF, "bogus": 1}, []],
)
def test_hostile_attach(client: TestClient, node: str, body: object) -> None:
    add_port(client, node, "52:54:00:00:00:01")
    error(client.post(f"/v1/nodes/{node}/vifs", json=body), 400)


def test_versions_and_unknown_nodes(client: TestClient, node: str) -> None:
    error(client.get(f"/v1/nodes/{node}/vifs", headers=v(27)), 404)
    error(client.post(f"/v1/nodes/{node}/vifs", json={"id": VIF}, headers=v(27)), 404)
    error(client.get("/v1/nodes/no-such-node/vifs"), 404)
    error(attach(client, str(uuidlib.UUID(int=3)), VIF), 404)


def test_reservation_is_first_come(client: TestClient, node: str) -> None:
    first, second = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    ok(patch(client, f"/v1/nodes/{node}", add("/instance_uuid", first)))
    message = error(patch(client, f"/v1/nodes/{node}", replace("/instance_uuid", second)), 409)
    assert message == f"Node {node} is associated with instance {first}."
    # Setting the same instance again is no conflict; clearing it frees the node.
    ok(patch(client, f"/v1/nodes/{node}", replace("/instance_uuid", first)))
    ok(patch(client, f"/v1/nodes/{node}", replace("/instance_uuid", None)))
    ok(patch(client, f"/v1/nodes/{node}", add("/instance_uuid", second)))


def test_nova_destroy_leaves_the_node_clean(client: TestClient) -> None:
    """Nova's spawn (reserve, instance_info, VIF, target, deploy), then its destroy: only
    `deleted`. The node must come back schedulable with nothing of the instance left."""
    node = str(create_node(client, deploy_interface="direct", boot_interface="fake")["uuid"])
    add_port(client, node, "52:54:00:00:00:01")
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    instance = str(uuidlib.uuid4())
    ok(patch(client, f"/v1/nodes/{node}", add("/instance_uuid", instance)))
    ok(patch(client, f"/v1/nodes/{node}", add("/instance_info/display_name", "vm-1")))
    ok(attach(client, node, VIF), 204)
    create_target(client, node, properties=iscsi_properties())
    provision(client, node, "active", "active")
    provision(client, node, "deleted", "available")
    seen = ok(client.get(f"/v1/nodes/{node}"))
    assert seen["instance_uuid"] is None
    assert seen["instance_info"] == {}
    assert seen["maintenance"] is False
    assert seen["power_state"] not in (None, "error")
    assert vifs(client, node) == []
    assert ok(client.get(f"/v1/nodes/{node}/volume/targets"))["targets"] == []
    # Schedulable again: Nova's next reservation of the node succeeds.
    ok(patch(client, f"/v1/nodes/{node}", add("/instance_uuid", str(uuidlib.uuid4()))))


def test_fake_deploy_keeps_targets_but_forgets_the_instance(client: TestClient, node: str) -> None:
    """As Ironic's fake deploy: its tear-down deletes no targets; the conductor still
    clears instance_uuid, instance_info and the VIFs."""
    add_port(client, node, "52:54:00:00:00:01")
    create_target(client, node, properties=iscsi_properties())
    to_active(client, node)
    ok(patch(client, f"/v1/nodes/{node}", add("/instance_uuid", str(uuidlib.uuid4()))))
    ok(attach(client, node, VIF), 204)
    provision(client, node, "deleted", "available")
    assert ok(client.get(f"/v1/nodes/{node}"))["instance_uuid"] is None
    assert vifs(client, node) == []
    assert len(ok(client.get(f"/v1/nodes/{node}/volume/targets"))["targets"]) == 1


def test_failed_tear_down_still_forgets_the_instance(
    client: TestClient, node: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Ironic: instance fields and VIFs are cleared even when the tear-down fails."""

    def broken(self: object, task: object) -> None:
        raise errors.DriverError(reason="the BMC is gone")

    add_port(client, node, "52:54:00:00:00:01")
    to_active(client, node)
    ok(patch(client, f"/v1/nodes/{node}", add("/instance_uuid", str(uuidlib.uuid4()))))
    ok(attach(client, node, VIF), 204)
    monkeypatch.setattr(FakeDeploy, "tear_down", broken)
    provision(client, node, "deleted", "error")
    seen = ok(client.get(f"/v1/nodes/{node}"))
    assert "the BMC is gone" in seen["last_error"]
    assert seen["instance_uuid"] is None and seen["instance_info"] == {}
    assert vifs(client, node) == []
