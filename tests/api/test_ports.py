"""/v1/ports: a node's NICs, known by MAC address."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import (
    add,
    create_node,
    error,
    ok,
    patch,
    remove,
    replace,
    to_active,
    v,
)

MAC = "52:54:00:12:34:56"
FULL = {
    "uuid",
    "address",
    "node_uuid",
    "extra",
    "internal_info",
    "local_link_connection",
    "pxe_enabled",
    "portgroup_uuid",
    "physical_network",
    "is_smartnic",
    "created_at",
    "updated_at",
    "links",
}


@pytest.fixture
def node(client: TestClient) -> str:
    return str(create_node(client, name="nic-node")["uuid"])


def create_port(client: TestClient, node: str, address: str = MAC, **fields: Any) -> dict[str, Any]:
    return dict(
        ok(client.post("/v1/ports", json={"node_uuid": node, "address": address, **fields}), 201)
    )


# --- create ---------------------------------------------------------------------


def test_create(client: TestClient, node: str) -> None:
    response = client.post("/v1/ports", json={"node_uuid": node, "address": MAC})
    port = ok(response, 201)
    assert set(port) == FULL
    assert port["address"] == MAC
    assert port["node_uuid"] == node
    assert port["pxe_enabled"] is True
    assert port["portgroup_uuid"] is None
    assert port["internal_info"] == {}
    assert response.headers["location"] == f"http://127.0.0.1:6385/v1/ports/{port['uuid']}"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"),
        ("52-54-00-ab-cd-ef", "52:54:00:ab:cd:ef"),
        (" 52:54:00:ab:cd:ef".strip(), "52:54:00:ab:cd:ef"),
    ],
)
def test_mac_is_normalised(client: TestClient, node: str, given: str, stored: str) -> None:
    assert create_port(client, node, given)["address"] == stored


@pytest.mark.parametrize(
    "address",
    [
        "52:54:00:12:34",
        "52:54:00:12:34:5g",
        "525400123456",
        "",
        "52:54:00:12:34:56:78",
        "52:54:00:12:34:56\n",  # '$' matches before a trailing newline
    ],
)
def test_invalid_mac_is_400(client: TestClient, node: str, address: str) -> None:
    response = client.post("/v1/ports", json={"node_uuid": node, "address": address})
    assert error(response, 400) == f"Expected a MAC address but received {address}."


def test_duplicate_mac_is_409_in_any_spelling(client: TestClient, node: str) -> None:
    create_port(client, node)
    other = create_node(client)["uuid"]
    response = client.post("/v1/ports", json={"node_uuid": other, "address": "52-54-00-12-34-56"})
    assert error(response, 409) == f"A port with MAC address {MAC} already exists."


def test_duplicate_uuid_is_409(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    body = {"node_uuid": node, "address": "52:54:00:00:00:01", "uuid": port["uuid"]}
    assert error(client.post("/v1/ports", json=body), 409) == (
        f"A port with UUID {port['uuid']} already exists."
    )


def test_node_name_in_node_uuid_is_400(client: TestClient, node: str) -> None:
    response = client.post("/v1/ports", json={"node_uuid": "nic-node", "address": MAC})
    assert error(response, 400) == "Expected UUID for node_uuid: nic-node"


def test_unknown_node_is_400(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    assert ghost in error(client.post("/v1/ports", json={"node_uuid": ghost, "address": MAC}), 400)


@pytest.mark.parametrize(
    "extra_fields",
    [
        {"bogus": 1},
        {"pxe_enabled": "yes"},
        {"extra": []},
        {"local_link_connection": "sw1"},
        {"uuid": "nope"},
        {"portgroup_uuid": "not-a-uuid"},
        {"internal_info": {}},
    ],
)
def test_schema_errors_are_400(client: TestClient, node: str, extra_fields: dict[str, Any]) -> None:
    body = {"node_uuid": node, "address": MAC, **extra_fields}
    error(client.post("/v1/ports", json=body), 400)


@pytest.mark.parametrize("field", ["pxe_enabled", "local_link_connection"])
def test_fields_newer_than_the_version_are_406(client: TestClient, node: str, field: str) -> None:
    value: Any = False if field == "pxe_enabled" else {"switch_id": "aa:bb:cc:dd:ee:ff"}
    body = {"node_uuid": node, "address": MAC, field: value}
    assert field in error(client.post("/v1/ports", json=body, headers=v(18)), 406)
    assert ok(client.post("/v1/ports", json=body, headers=v(19)), 201)[field] == value


def test_fields_shown_per_version(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    url = f"/v1/ports/{port['uuid']}"
    assert "internal_info" not in ok(client.get(url, headers=v(17)))
    assert "pxe_enabled" not in ok(client.get(url, headers=v(18)))
    assert "portgroup_uuid" not in ok(client.get(url, headers=v(23)))
    assert set(ok(client.get(url, headers=v(33)))) == FULL - {"physical_network", "is_smartnic"}
    assert set(ok(client.get(url, headers=v(52)))) == FULL - {"is_smartnic"}
    assert set(ok(client.get(url, headers=v(53)))) == FULL


# --- show and list -------------------------------------------------------------------


def test_show(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    assert ok(client.get(f"/v1/ports/{port['uuid']}")) == port
    fields = ok(client.get(f"/v1/ports/{port['uuid']}?fields=address"))
    assert fields == {"address": MAC, "links": port["links"]}


def test_show_errors(client: TestClient) -> None:
    assert error(client.get("/v1/ports/eth0"), 400) == "Expected UUID for port_uuid: eth0"
    ghost = str(uuidlib.uuid4())
    assert error(client.get(f"/v1/ports/{ghost}"), 404) == f"Port {ghost} could not be found."


def test_list_and_detail(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    assert ok(client.get("/v1/ports")) == {
        "ports": [{"uuid": port["uuid"], "address": MAC, "links": port["links"]}]
    }
    assert ok(client.get("/v1/ports/detail")) == {"ports": [port]}
    error(client.get("/v1/ports/detail?fields=uuid"), 400)
    assert ok(client.get("/v1/ports?detail=True")) == {"ports": [port]}  # from 1.43
    assert "?detail=True" in error(client.get("/v1/ports?detail=True", headers=v(42)), 400)


def test_filters(client: TestClient, node: str) -> None:
    mine = create_port(client, node)
    other = create_node(client)["uuid"]
    create_port(client, other, "52:54:00:00:00:02")
    for query in (
        f"node={node}",
        "node=nic-node",
        f"node_uuid={node}",
        "address=52-54-00-12-34-56",
        f"address={MAC.upper()}",
    ):
        listed = ok(client.get(f"/v1/ports?{query}"))["ports"]
        assert [p["uuid"] for p in listed] == [mine["uuid"]], query
    assert len(ok(client.get("/v1/ports"))["ports"]) == 2
    assert ok(client.get("/v1/ports?address=52:54:00:99:99:99")) == {"ports": []}


def test_filter_errors(client: TestClient) -> None:
    assert "MAC" in error(client.get("/v1/ports?address=nope"), 400)
    assert "node_uuid" in error(client.get("/v1/ports?node_uuid=nic-node"), 400)
    error(client.get("/v1/ports?node=ghost"), 404)
    error(client.get("/v1/ports?bogus=1"), 400)


def test_node_ports_by_uuid_or_name(client: TestClient, node: str) -> None:
    mine = create_port(client, node)
    create_port(client, create_node(client)["uuid"], "52:54:00:00:00:02")
    for ident in (node, "nic-node"):
        assert [p["uuid"] for p in ok(client.get(f"/v1/nodes/{ident}/ports"))["ports"]] == [
            mine["uuid"]
        ]
        assert ok(client.get(f"/v1/nodes/{ident}/ports/detail"))["ports"] == [mine]
    error(client.get("/v1/nodes/ghost/ports"), 404)
    assert "node" in error(client.get(f"/v1/nodes/{node}/ports?node={node}"), 400)


def test_node_ports_paging_stays_on_the_node(client: TestClient, node: str) -> None:
    other = create_node(client)["uuid"]
    mine = []
    for i in range(3):
        mine.append(create_port(client, node, f"52:54:00:00:01:0{i}")["uuid"])
        create_port(client, other, f"52:54:00:00:02:0{i}")
    page = ok(client.get("/v1/nodes/nic-node/ports/detail?limit=2"))
    assert urlsplit(page["next"]).path == f"/v1/nodes/{node}/ports/detail"
    seen = [p["uuid"] for p in page["ports"]]
    while "next" in page:
        page = ok(client.get(page["next"]))
        seen += [p["uuid"] for p in page["ports"]]
    assert seen == mine


def test_paging_with_a_filter(client: TestClient, node: str) -> None:
    for i in range(3):
        create_port(client, node, f"52:54:00:00:01:0{i}")
    page = ok(client.get(f"/v1/ports?node_uuid={node}&limit=1&sort_key=address&sort_dir=desc"))
    assert page["ports"][0]["address"] == "52:54:00:00:01:02"
    query = parse_qs(urlsplit(page["next"]).query)
    assert query["node_uuid"] == [node]
    assert query["sort_key"] == ["address"]


# --- update -----------------------------------------------------------------------------


def test_change_address(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    updated = ok(
        patch(client, f"/v1/ports/{port['uuid']}", replace("/address", "52-54-00-AA-BB-CC"))
    )
    assert updated["address"] == "52:54:00:aa:bb:cc"
    assert updated["updated_at"] is not None


def test_change_to_a_taken_address_is_409(client: TestClient, node: str) -> None:
    create_port(client, node)
    second = create_port(client, node, "52:54:00:00:00:02")
    response = patch(client, f"/v1/ports/{second['uuid']}", replace("/address", MAC))
    assert error(response, 409) == f"A port with MAC address {MAC} already exists."


def test_change_to_an_invalid_address_is_400(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    error(patch(client, f"/v1/ports/{port['uuid']}", replace("/address", "nope")), 400)
    error(patch(client, f"/v1/ports/{port['uuid']}", remove("/address")), 400)


def test_move_to_another_node(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    other = create_node(client)["uuid"]
    moved = ok(patch(client, f"/v1/ports/{port['uuid']}", replace("/node_uuid", other)))
    assert moved["node_uuid"] == other
    ghost = str(uuidlib.uuid4())
    error(patch(client, f"/v1/ports/{port['uuid']}", replace("/node_uuid", ghost)), 400)


def test_extra_and_pxe(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    url = f"/v1/ports/{port['uuid']}"
    updated = ok(patch(client, url, add("/extra/vif", "x"), replace("/pxe_enabled", False)))
    assert updated["extra"] == {"vif": "x"}
    assert updated["pxe_enabled"] is False
    assert "pxe_enabled" in error(patch(client, url, replace("/pxe_enabled", "no")), 400)


def test_patch_at_an_old_version_keeps_newer_fields(client: TestClient, node: str) -> None:
    llc = {"switch_id": "aa:bb:cc:dd:ee:ff", "port_id": "Eth1/1"}
    port = create_port(client, node, pxe_enabled=False, local_link_connection=llc)
    url = f"/v1/ports/{port['uuid']}"
    ok(patch(client, url, add("/extra/a", 1), headers=v(1)))
    after = ok(client.get(url))
    assert after["pxe_enabled"] is False
    assert after["local_link_connection"] == llc
    assert after["extra"] == {"a": 1}


def test_patch_newer_field_is_406(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    response = patch(
        client, f"/v1/ports/{port['uuid']}", replace("/pxe_enabled", False), headers=v(18)
    )
    error(response, 406)


@pytest.mark.parametrize("path", ["/uuid", "/internal_info", "/created_at"])
def test_patch_read_only_is_400(client: TestClient, node: str, path: str) -> None:
    port = create_port(client, node)
    message = error(patch(client, f"/v1/ports/{port['uuid']}", replace(path, "x")), 400)
    assert message.startswith(f"Cannot patch {path}.")


def test_address_of_an_active_node_needs_maintenance(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    to_active(client, node)
    url = f"/v1/ports/{port['uuid']}"
    message = error(patch(client, url, replace("/address", "52:54:00:aa:bb:cc")), 409)
    assert "maintenance" in message
    assert ok(patch(client, url, add("/extra/label", "eth0")))["extra"] == {"label": "eth0"}
    ok(client.put(f"/v1/nodes/{node}/maintenance", json={"reason": "swap NIC"}), 202)
    assert ok(patch(client, url, replace("/address", "52:54:00:aa:bb:cc")))["address"] == (
        "52:54:00:aa:bb:cc"
    )


def test_patch_unknown_port(client: TestClient) -> None:
    error(patch(client, f"/v1/ports/{uuidlib.uuid4()}", add("/extra/a", 1)), 404)
    error(patch(client, "/v1/ports/eth0", add("/extra/a", 1)), 400)


# --- delete --------------------------------------------------------------------------------


def test_delete(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    assert client.delete(f"/v1/ports/{port['uuid']}").status_code == 204
    error(client.get(f"/v1/ports/{port['uuid']}"), 404)
    create_port(client, node)  # the MAC is free again


def test_delete_on_an_active_node_needs_maintenance(client: TestClient, node: str) -> None:
    port = create_port(client, node)
    to_active(client, node)
    assert "maintenance" in error(client.delete(f"/v1/ports/{port['uuid']}"), 409)
    ok(client.put(f"/v1/nodes/{node}/maintenance"), 202)
    assert client.delete(f"/v1/ports/{port['uuid']}").status_code == 204


def test_delete_unknown(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    assert error(client.delete(f"/v1/ports/{ghost}"), 404) == f"Port {ghost} could not be found."


# --- physical_network (1.34) -------------------------------------------------------


def test_physical_network_is_set_shown_and_changed(client: TestClient, node: str) -> None:
    port = create_port(client, node, physical_network="physnet1")
    assert port["physical_network"] == "physnet1"
    url = f"/v1/ports/{port['uuid']}"
    assert ok(client.get(f"{url}?fields=physical_network"))["physical_network"] == "physnet1"
    assert ok(patch(client, url, replace("/physical_network", "physnet2")))["physical_network"] == (
        "physnet2"
    )
    assert ok(patch(client, url, remove("/physical_network")))["physical_network"] is None


def test_physical_network_is_gated_at_1_34(client: TestClient, node: str) -> None:
    body = {"node_uuid": node, "address": MAC, "physical_network": "physnet1"}
    assert "physical_network" in error(client.post("/v1/ports", json=body, headers=v(33)), 406)
    port = ok(client.post("/v1/ports", json=body, headers=v(34)), 201)
    url = f"/v1/ports/{port['uuid']}"
    assert "physical_network" in error(
        client.get(f"{url}?fields=physical_network", headers=v(33)), 406
    )
    error(patch(client, url, replace("/physical_network", "x"), headers=v(33)), 406)
    # A PATCH at an older version keeps the physical network it cannot see.
    ok(patch(client, url, add("/extra/a", 1), headers=v(33)))
    assert ok(client.get(url))["physical_network"] == "physnet1"


@pytest.mark.parametrize("value", ["", "x" * 65, 5])
def test_bad_physical_network_is_400(client: TestClient, node: str, value: Any) -> None:
    body = {"node_uuid": node, "address": MAC, "physical_network": value}
    message = error(client.post("/v1/ports", json=body), 400)
    assert "physical_network" in message


def _group(client: TestClient, node: str) -> str:
    body = {"node_uuid": node, "address": "52:54:00:aa:bb:cc"}
    return str(ok(client.post("/v1/portgroups", json=body), 201)["uuid"])


def test_ports_of_a_group_share_one_physical_network(client: TestClient, node: str) -> None:
    group = _group(client, node)
    create_port(client, node, portgroup_uuid=group, physical_network="physnet1", pxe_enabled=False)
    body = {
        "node_uuid": node,
        "address": "52:54:00:12:34:57",
        "portgroup_uuid": group,
        "physical_network": "physnet2",
    }
    message = error(client.post("/v1/ports", json=body), 409)
    assert "physical network physnet2" in message and "physnet1" in message and group in message
    # Without a group the port may be anywhere; joining the group later is checked too.
    loose = create_port(client, node, "52:54:00:12:34:58", physical_network="physnet2")
    url = f"/v1/ports/{loose['uuid']}"
    error(patch(client, url, add("/portgroup_uuid", group)), 409)
    joined = ok(
        patch(client, url, add("/portgroup_uuid", group), replace("/physical_network", "physnet1"))
    )
    assert joined["portgroup_uuid"] == group
    # A member cannot leave the group's network while it has other members.
    error(patch(client, url, replace("/physical_network", "physnet3")), 409)
