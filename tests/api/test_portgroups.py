"""/v1/portgroups (1.23-1.26): a node's bonded NICs, and ports joining them."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import create_node, error, ok, patch, replace, v

MAC = "52:54:00:aa:bb:01"
FULL = {
    "uuid",
    "name",
    "address",
    "node_uuid",
    "standalone_ports_supported",
    "extra",
    "internal_info",
    "mode",
    "properties",
    "created_at",
    "updated_at",
    "links",
    "ports",
}
LATEST = v(33)


@pytest.fixture
def node(client: TestClient) -> str:
    return str(create_node(client, name="bond-node")["uuid"])


def create_group(client: TestClient, node: str, **fields: Any) -> dict[str, Any]:
    body = {"node_uuid": node, "address": MAC, **fields}
    return dict(ok(client.post("/v1/portgroups", json=body, headers=LATEST), 201))


def test_create_show_list_delete(client: TestClient, node: str) -> None:
    group = create_group(client, node, name="bond0", extra={"k": "v"})
    assert set(group) == FULL
    assert group["mode"] == "active-backup"
    assert group["standalone_ports_supported"] is True
    assert group["ports"][0]["href"].endswith(f"/v1/portgroups/{group['uuid']}/ports")
    by_name = ok(client.get("/v1/portgroups/bond0", headers=LATEST))
    assert by_name["uuid"] == group["uuid"]
    listed = ok(client.get("/v1/portgroups", headers=LATEST))["portgroups"]
    assert [set(g) for g in listed] == [{"uuid", "address", "name", "links"}]
    detail = ok(client.get("/v1/portgroups/detail", headers=LATEST))["portgroups"]
    assert set(detail[0]) == FULL
    of_node = ok(client.get(f"/v1/nodes/{node}/portgroups", headers=LATEST))["portgroups"]
    assert [g["uuid"] for g in of_node] == [group["uuid"]]
    ok(client.delete(f"/v1/portgroups/{group['uuid']}", headers=LATEST), 204)
    error(client.get(f"/v1/portgroups/{group['uuid']}", headers=LATEST), 404)


def test_filters_and_paging(client: TestClient, node: str) -> None:
    other = str(create_node(client)["uuid"])
    create_group(client, node, address="52:54:00:aa:bb:01")
    create_group(client, node, address="52:54:00:aa:bb:02")
    create_group(client, other, address="52:54:00:aa:bb:03")
    mine = ok(client.get(f"/v1/portgroups?node={node}", headers=LATEST))["portgroups"]
    assert len(mine) == 2
    by_mac = ok(client.get("/v1/portgroups?address=52:54:00:AA:BB:03", headers=LATEST))
    assert [g["address"] for g in by_mac["portgroups"]] == ["52:54:00:aa:bb:03"]
    page = ok(client.get("/v1/portgroups?limit=2", headers=LATEST))
    assert len(page["portgroups"]) == 2 and "marker=" in page["next"]
    error(client.get("/v1/portgroups?address=nonsense", headers=LATEST), 400)
    error(client.get("/v1/portgroups?limit=0", headers=LATEST), 400)
    error(client.get("/v1/portgroups?sort_key=extra", headers=LATEST), 400)
    error(client.get("/v1/portgroups?bogus=1", headers=LATEST), 400)


def test_version_gates(client: TestClient, node: str) -> None:
    group = create_group(client, node)
    # Ironic answers 404 (not 406) for port group paths a microversion lacks.
    error(client.get("/v1/portgroups", headers=v(22)), 404)
    error(client.get(f"/v1/nodes/{node}/portgroups", headers=v(23)), 404)
    error(client.get(f"/v1/portgroups/{group['uuid']}/ports", headers=v(23)), 404)
    at_23 = ok(client.get(f"/v1/portgroups/{group['uuid']}", headers=v(23)))
    assert "mode" not in at_23 and "ports" not in at_23
    error(client.get("/v1/portgroups?fields=mode", headers=v(25)), 406)
    body = {"node_uuid": node, "address": "52:54:00:aa:bb:09", "mode": "802.3ad"}
    error(client.post("/v1/portgroups", json=body, headers=v(25)), 406)


@pytest.mark.parametrize(
    "fields",
    [
        {"address": "not-a-mac"},
        {"address": "52:54:00:aa:bb"},
        {"name": "has space"},
        {"name": str(uuidlib.UUID(int=7))},
        {"internal_info": {"x": 1}},
        {"standalone_ports_supported": "yes"},
        {"bogus": 1},
        {"mode": "x" * 256},
        {"node_uuid": "not-a-uuid"},
        {"node_uuid": str(uuidlib.UUID(int=9))},
    ],
)
def test_hostile_create(client: TestClient, node: str, fields: dict[str, Any]) -> None:
    body = {"node_uuid": node, "address": MAC, **fields}
    error(client.post("/v1/portgroups", json=body, headers=LATEST), 400)


def test_unique_address_name_uuid(client: TestClient, node: str) -> None:
    group = create_group(client, node, name="bond0")
    again = {"node_uuid": node, "address": MAC.upper()}
    assert "MAC address" in error(client.post("/v1/portgroups", json=again, headers=LATEST), 409)
    named = {"node_uuid": node, "name": "bond0"}
    assert "name bond0" in error(client.post("/v1/portgroups", json=named, headers=LATEST), 409)
    same = {"node_uuid": node, "uuid": group["uuid"]}
    error(client.post("/v1/portgroups", json=same, headers=LATEST), 409)


def test_ports_join_a_group_of_their_node_only(client: TestClient, node: str) -> None:
    group = create_group(client, node)
    other = str(create_node(client)["uuid"])
    body = {"node_uuid": other, "address": "52:54:00:00:00:02", "portgroup_uuid": group["uuid"]}
    error(client.post("/v1/ports", json=body, headers=LATEST), 400)
    body = {"node_uuid": node, "address": "52:54:00:00:00:02", "portgroup_uuid": group["uuid"]}
    port = ok(client.post("/v1/ports", json=body, headers=LATEST), 201)
    assert port["portgroup_uuid"] == group["uuid"]
    shown = ok(client.get(f"/v1/ports/{port['uuid']}", headers=LATEST))
    assert shown["portgroup_uuid"] == group["uuid"]
    members = ok(client.get(f"/v1/portgroups/{group['uuid']}/ports", headers=LATEST))["ports"]
    assert [p["uuid"] for p in members] == [port["uuid"]]
    # A group with ports is neither deleted nor moved to another node.
    assert "contains ports" in error(
        client.delete(f"/v1/portgroups/{group['uuid']}", headers=LATEST), 400
    )
    moved = patch(client, f"/v1/portgroups/{group['uuid']}", replace("/node_uuid", other))
    error(moved, 400)
    unknown = str(uuidlib.UUID(int=5))
    error(patch(client, f"/v1/ports/{port['uuid']}", replace("/portgroup_uuid", unknown)), 404)
    left = patch(client, f"/v1/ports/{port['uuid']}", replace("/portgroup_uuid", None))
    assert ok(left)["portgroup_uuid"] is None
    ok(client.delete(f"/v1/portgroups/{group['uuid']}", headers=LATEST), 204)


def test_patch(client: TestClient, node: str) -> None:
    group = create_group(client, node, name="bond0")
    url = f"/v1/portgroups/{group['uuid']}"
    changed = ok(
        patch(client, url, replace("/mode", "802.3ad"), replace("/name", "bond1"), headers=LATEST)
    )
    assert changed["mode"] == "802.3ad" and changed["name"] == "bond1"
    error(patch(client, url, replace("/address", "zz"), headers=LATEST), 400)
    error(patch(client, url, replace("/internal_info", {}), headers=LATEST), 400)


def test_node_delete_removes_its_groups(client: TestClient, node: str) -> None:
    group = create_group(client, node)
    ok(client.delete(f"/v1/nodes/{node}"), 204)
    error(client.get(f"/v1/portgroups/{group['uuid']}", headers=LATEST), 404)


def test_pxe_port_needs_standalone_support(client: TestClient, node: str) -> None:
    group = create_group(client, node, standalone_ports_supported=False)
    body = {"node_uuid": node, "address": "52:54:00:00:00:03", "portgroup_uuid": group["uuid"]}
    assert "standalone" in error(client.post("/v1/ports", json=body), 409)
    port = ok(client.post("/v1/ports", json={**body, "pxe_enabled": False}), 201)
    assert port["portgroup_uuid"] == group["uuid"]


def test_novas_vif_lookup_by_mac(client: TestClient, node: str) -> None:
    """Nova's boot-from-volume connector lookup: detail lists filtered by node and address."""
    group = create_group(client, node)
    body = {"node_uuid": node, "address": "52:54:00:00:00:04"}
    port = ok(client.post("/v1/ports", json=body), 201)
    query = f"node={node}&address={MAC}"
    found = ok(client.get(f"/v1/portgroups/detail?{query}", headers=v(26)))["portgroups"]
    assert [g["uuid"] for g in found] == [group["uuid"]]
    query = f"node={node}&address=52:54:00:00:00:04"
    ports = ok(client.get(f"/v1/ports/detail?{query}", headers=v(33)))["ports"]
    assert [p["uuid"] for p in ports] == [port["uuid"]]
    assert "portgroups" in ok(client.get("/v1", headers=v(23)))
    assert "portgroups" not in ok(client.get("/v1", headers=v(22)))
