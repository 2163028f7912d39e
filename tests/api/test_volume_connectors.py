"""/v1/volume/connectors: a node's initiator identities, with Ironic's errors."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from tests.api.helpers import (
    IQN,
    add,
    create_connector,
    create_node,
    error,
    force,
    ok,
    patch,
    power,
    remove,
    replace,
    to_active,
    v,
)

FULL = {"uuid", "node_uuid", "type", "connector_id", "extra", "created_at", "updated_at", "links"}
SUMMARY = {"uuid", "node_uuid", "type", "connector_id", "links"}


@pytest.fixture
def node(client: TestClient) -> str:
    return str(create_node(client, name="bfv-node-1")["uuid"])


# --- create -------------------------------------------------------------------


def test_create(client: TestClient, node: str) -> None:
    response = client.post(
        "/v1/volume/connectors", json={"node_uuid": node, "type": "iqn", "connector_id": IQN}
    )
    connector = ok(response, 201)
    assert set(connector) == FULL
    assert connector["node_uuid"] == node
    assert connector["type"] == "iqn"
    assert connector["connector_id"] == IQN
    assert connector["extra"] == {}
    assert connector["updated_at"] is None
    assert response.headers["location"] == (
        f"http://127.0.0.1:6385/v1/volume/connectors/{connector['uuid']}"
    )
    assert connector["links"][1] == {
        "href": f"http://127.0.0.1:6385/volume/connectors/{connector['uuid']}",
        "rel": "bookmark",
    }


def test_create_with_trailing_slash_and_a_given_uuid(client: TestClient, node: str) -> None:
    wanted = str(uuidlib.uuid4())
    body = {
        "node_uuid": node,
        "type": "iqn",
        "connector_id": IQN,
        "uuid": wanted,
        "extra": {"a": 1},
    }
    connector = ok(client.post("/v1/volume/connectors/", json=body), 201)
    assert connector["uuid"] == wanted
    assert connector["extra"] == {"a": 1}


def test_volume_api_needs_1_32(client: TestClient, node: str) -> None:
    connector = create_connector(client, node)
    body = {"node_uuid": node, "type": "iqn", "connector_id": "iqn.2010-10.org.x:y"}
    for response in (
        client.post("/v1/volume/connectors", json=body, headers=v(31)),
        client.get("/v1/volume/connectors", headers=v(31)),
        client.get(f"/v1/volume/connectors/{connector['uuid']}", headers=v(31)),
        client.get(f"/v1/nodes/{node}/volume/connectors", headers=v(31)),
        client.get(f"/v1/nodes/{node}/volume", headers=v(31)),
        patch(
            client, f"/v1/volume/connectors/{connector['uuid']}", add("/extra/a", 1), headers=v(31)
        ),
        client.delete(f"/v1/volume/connectors/{connector['uuid']}", headers=v(31)),
    ):
        error(response, 404)
    ok(client.get(f"/v1/volume/connectors/{connector['uuid']}", headers=v(32)))


@pytest.mark.parametrize(
    ("kind", "given", "stored"),
    [
        ("iqn", IQN, IQN),
        ("iqn", "eui.02004567A425678D", "eui.02004567A425678D"),
        ("iqn", "naa.52004567BA64678D", "naa.52004567BA64678D"),
        ("ip", "192.0.2.7", "192.0.2.7"),
        ("ip", "FD00:0:0::1", "fd00::1"),
        ("mac", "52-54-00-AB-CD-EF", "52:54:00:ab:cd:ef"),
        ("wwnn", "20:00:00:24:FF:4B:32:1A", "20000024ff4b321a"),
        ("wwpn", "0x21000024ff4b321a", "21000024ff4b321a"),
        ("port", "A1B2C3D4-0000-4000-8000-000000000001", "a1b2c3d4-0000-4000-8000-000000000001"),
        (
            "portgroup",
            "a1b2c3d4-0000-4000-8000-000000000002",
            "a1b2c3d4-0000-4000-8000-000000000002",
        ),
    ],
)
def test_connector_ids_are_validated_and_normalised(
    client: TestClient, node: str, kind: str, given: str, stored: str
) -> None:
    assert create_connector(client, node, kind, given)["connector_id"] == stored


@pytest.mark.parametrize(
    ("kind", "connector_id", "needle"),
    [
        ("bogus", "x", "Invalid volume connector type 'bogus'"),
        ("wwnn", "not-a-wwn", "not a World Wide Name"),
        ("wwpn", "21000024ff4b321", "not a World Wide Name"),
        ("iqn", "iqn.2010-13.org.x", "not a valid iSCSI initiator name"),
        ("iqn", "node1", "not a valid iSCSI initiator name"),
        ("ip", "300.1.1.1", "not an IPv4 or IPv6 address"),
        ("mac", "52:54:00:12:34", "not a MAC address"),
        ("port", "eth0", "must be the UUID of a port"),
        ("portgroup", "bond0", "must be the UUID of a portgroup"),
    ],
)
def test_connector_type_and_id_are_checked(
    client: TestClient, node: str, kind: str, connector_id: str, needle: str
) -> None:
    body = {"node_uuid": node, "type": kind, "connector_id": connector_id}
    assert needle in error(client.post("/v1/volume/connectors", json=body), 400)


def test_duplicate_on_the_same_node_is_409(client: TestClient, node: str) -> None:
    create_connector(client, node)
    body = {"node_uuid": node, "type": "iqn", "connector_id": IQN}
    assert error(client.post("/v1/volume/connectors", json=body), 409) == (
        f"A volume connector with type iqn and connector ID {IQN} already exists."
    )


def test_duplicate_on_another_node_is_409(client: TestClient, node: str) -> None:
    create_connector(client, node)
    other = create_node(client)["uuid"]
    body = {"node_uuid": other, "type": "iqn", "connector_id": IQN}
    assert "already exists" in error(client.post("/v1/volume/connectors", json=body), 409)


def test_normalised_duplicates_are_caught(client: TestClient, node: str) -> None:
    create_connector(client, node, "mac", "52:54:00:ab:cd:ef")
    body = {"node_uuid": node, "type": "mac", "connector_id": "52-54-00-AB-CD-EF"}
    error(client.post("/v1/volume/connectors", json=body), 409)


def test_same_id_with_another_type_is_fine(client: TestClient, node: str) -> None:
    create_connector(client, node, "wwnn", "20000024ff4b321a")
    create_connector(client, node, "wwpn", "20000024ff4b321a")


def test_duplicate_uuid_is_409(client: TestClient, node: str) -> None:
    first = create_connector(client, node)
    body = {"node_uuid": node, "type": "ip", "connector_id": "192.0.2.1", "uuid": first["uuid"]}
    assert error(client.post("/v1/volume/connectors", json=body), 409) == (
        f"A volume connector with UUID {first['uuid']} already exists."
    )


def test_node_name_in_node_uuid_is_400(client: TestClient, node: str) -> None:
    body = {"node_uuid": "bfv-node-1", "type": "iqn", "connector_id": IQN}
    message = error(client.post("/v1/volume/connectors", json=body), 400)
    assert message == "Expected UUID for node_uuid: bfv-node-1"


def test_unknown_node_uuid_is_400(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    body = {"node_uuid": ghost, "type": "iqn", "connector_id": IQN}
    assert ghost in error(client.post("/v1/volume/connectors", json=body), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "iqn", "connector_id": IQN},
        {"node_uuid": "NODE", "connector_id": IQN},
        {"node_uuid": "NODE", "type": "iqn"},
        {"node_uuid": "NODE", "type": "iqn", "connector_id": IQN, "bogus_field": 1},
        {"node_uuid": "NODE", "type": "iqn", "connector_id": ""},
        {"node_uuid": "NODE", "type": "iqn", "connector_id": 5},
        {"node_uuid": "NODE", "type": "iqn", "connector_id": IQN, "extra": "x"},
        {"node_uuid": "NODE", "type": "iqn", "connector_id": IQN, "uuid": "nope"},
        {"node_uuid": 7, "type": "iqn", "connector_id": IQN},
    ],
)
def test_schema_errors_are_400(client: TestClient, node: str, body: dict[str, Any]) -> None:
    body = {k: (node if val == "NODE" else val) for k, val in body.items()}
    error(client.post("/v1/volume/connectors", json=body), 400)


def test_create_on_an_active_powered_node(client: TestClient, node: str) -> None:
    to_active(client, node)
    assert client.get(f"/v1/nodes/{node}").json()["power_state"] == "power on"
    create_connector(client, node)


def test_post_under_the_node_is_a_malformed_uri(client: TestClient, node: str) -> None:
    body = {"node_uuid": node, "type": "iqn", "connector_id": IQN}
    for path in (f"/v1/nodes/{node}/volume/connectors", f"/v1/nodes/{node}/volume/connectors/"):
        assert error(client.post(path, json=body), 400) == "Malformed request URI."


# --- show -----------------------------------------------------------------------


def test_show(client: TestClient, node: str) -> None:
    connector = create_connector(client, node)
    assert ok(client.get(f"/v1/volume/connectors/{connector['uuid']}")) == connector


def test_show_with_fields(client: TestClient, node: str) -> None:
    connector = create_connector(client, node)
    shown = ok(client.get(f"/v1/volume/connectors/{connector['uuid']}?fields=connector_id"))
    assert shown == {"connector_id": IQN, "links": connector["links"]}


def test_show_not_a_uuid_is_400(client: TestClient) -> None:
    message = error(client.get("/v1/volume/connectors/not-a-uuid"), 400)
    assert message == "Expected UUID for connector_uuid: not-a-uuid"


def test_show_unknown_is_404(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    message = error(client.get(f"/v1/volume/connectors/{ghost}"), 404)
    assert message == f"Volume connector {ghost} could not be found."


# --- list -------------------------------------------------------------------------


def test_list_summary_and_detail(client: TestClient, node: str) -> None:
    connector = create_connector(client, node)
    listed = ok(client.get("/v1/volume/connectors"))
    assert list(listed) == ["connectors"]
    assert set(listed["connectors"][0]) == SUMMARY
    detail = ok(client.get("/v1/volume/connectors/", params={"detail": "True", "node": node}))
    assert detail["connectors"] == [connector]


def test_list_with_fields_always_has_links(client: TestClient, node: str) -> None:
    create_connector(client, node)
    listed = ok(client.get("/v1/volume/connectors?fields=uuid,type"))["connectors"]
    assert set(listed[0]) == {"uuid", "type", "links"}


def test_detail_with_fields_is_400(client: TestClient) -> None:
    message = error(client.get("/v1/volume/connectors?detail=True&fields=uuid"), 400)
    assert message == "Can't fetch a subset of fields with 'detail' set"


def test_list_filtered_by_node_uuid_or_name(client: TestClient, node: str) -> None:
    mine = create_connector(client, node)
    other = create_node(client, name="other")["uuid"]
    create_connector(client, other, connector_id="iqn.2010-10.org.openstack.other")
    for ident in (node, "bfv-node-1"):
        listed = ok(client.get("/v1/volume/connectors", params={"node": ident}))["connectors"]
        assert [c["uuid"] for c in listed] == [mine["uuid"]]
    assert len(ok(client.get("/v1/volume/connectors"))["connectors"]) == 2


def test_list_filtered_by_an_unknown_node_is_404(client: TestClient) -> None:
    assert error(client.get("/v1/volume/connectors?node=ghost"), 404) == (
        "Node ghost could not be found."
    )


def test_node_scoped_list(client: TestClient, node: str) -> None:
    mine = create_connector(client, node)
    other = create_node(client)["uuid"]
    create_connector(client, other, connector_id="iqn.2010-10.org.openstack.other")
    listed = ok(client.get(f"/v1/nodes/{node}/volume/connectors"))["connectors"]
    assert [c["uuid"] for c in listed] == [mine["uuid"]]
    assert set(listed[0]) == SUMMARY
    detail = ok(client.get(f"/v1/nodes/{node}/volume/connectors/?detail=true"))["connectors"]
    assert detail == [mine]


def test_node_scoped_list_by_name_is_404(client: TestClient, node: str) -> None:
    message = error(client.get("/v1/nodes/bfv-node-1/volume/connectors"), 404)
    assert message == "Node bfv-node-1 could not be found."


def test_node_scoped_list_refuses_the_node_filter(client: TestClient, node: str) -> None:
    assert "node" in error(client.get(f"/v1/nodes/{node}/volume/connectors?node={node}"), 400)


def test_paging_and_next(client: TestClient, node: str) -> None:
    made = [
        create_connector(client, node, connector_id=f"iqn.2010-10.org.openstack:n{i}")["uuid"]
        for i in range(3)
    ]
    page = ok(client.get("/v1/volume/connectors?limit=2&fields=uuid,type"))
    assert [c["uuid"] for c in page["connectors"]] == made[:2]
    query = parse_qs(urlsplit(page["next"]).query)
    assert query["limit"] == ["2"]
    assert query["marker"] == [made[1]]
    assert query["fields"] == ["uuid,type"]
    last = ok(client.get(page["next"]))
    assert [c["uuid"] for c in last["connectors"]] == made[2:]
    assert "next" not in last


def test_node_scoped_next_stays_on_the_node(client: TestClient, node: str) -> None:
    other = create_node(client)["uuid"]
    mine = []
    for i in range(3):
        mine.append(create_connector(client, node, connector_id=f"iqn.2010-10.org.a:n{i}")["uuid"])
        create_connector(client, other, connector_id=f"iqn.2010-10.org.b:n{i}")
    seen: list[str] = []
    page = ok(client.get(f"/v1/nodes/{node}/volume/connectors?limit=2"))
    seen += [c["uuid"] for c in page["connectors"]]
    while "next" in page:
        page = ok(client.get(page["next"]))
        seen += [c["uuid"] for c in page["connectors"]]
    assert seen == mine


def test_sort_by_connector_id_descending(client: TestClient, node: str) -> None:
    for suffix in ("b", "c", "a"):
        create_connector(client, node, connector_id=f"iqn.2010-10.org.openstack:{suffix}")
    listed = ok(client.get("/v1/volume/connectors?sort_key=connector_id&sort_dir=desc"))
    assert [c["connector_id"][-1] for c in listed["connectors"]] == ["c", "b", "a"]


@pytest.mark.parametrize(
    "query",
    ["sort_key=extra", "limit=0", "marker=not-a-uuid", "detail=maybe", "fields=bogus", "bogus=1"],
)
def test_bad_list_parameters_are_400(client: TestClient, query: str) -> None:
    error(client.get(f"/v1/volume/connectors?{query}"), 400)


def test_unknown_marker_is_400(client: TestClient) -> None:
    assert "Marker" in error(client.get(f"/v1/volume/connectors?marker={uuidlib.uuid4()}"), 400)


# --- update ------------------------------------------------------------------------


def test_update_needs_the_node_powered_off(client: TestClient, node: str) -> None:
    connector = create_connector(client, node)
    url = f"/v1/volume/connectors/{connector['uuid']}"
    assert error(patch(client, url, add("/extra/a", 1)), 400) == (
        f'The requested action "volume connector update" can not be performed on node '
        f'"{node}" while it is in state "None".'
    )
    power(client, node, "power off")
    updated = ok(patch(client, url, add("/extra/a", 1)))
    assert updated["extra"] == {"a": 1}
    assert updated["updated_at"] is not None
    power(client, node, "power on")
    assert 'while it is in state "power on".' in error(patch(client, url, add("/extra/b", 1)), 400)


def test_update_of_an_active_node_after_power_off(client: TestClient, node: str) -> None:
    connector = create_connector(client, node)
    to_active(client, node)
    url = f"/v1/volume/connectors/{connector['uuid']}"
    error(patch(client, url, add("/extra/a", 1)), 400)
    power(client, node, "power off")
    assert ok(patch(client, url, add("/extra/a", 1)))["extra"] == {"a": 1}


@pytest.fixture
def off_node(client: TestClient, node: str) -> str:
    power(client, node, "power off")
    return node


def test_change_type_and_id(client: TestClient, off_node: str) -> None:
    connector = create_connector(client, off_node)
    url = f"/v1/volume/connectors/{connector['uuid']}"
    updated = ok(
        patch(client, url, replace("/type", "mac"), replace("/connector_id", "52:54:00:AA:BB:CC"))
    )
    assert (updated["type"], updated["connector_id"]) == ("mac", "52:54:00:aa:bb:cc")


def test_change_to_an_invalid_id_is_400(client: TestClient, off_node: str) -> None:
    connector = create_connector(client, off_node)
    url = f"/v1/volume/connectors/{connector['uuid']}"
    error(patch(client, url, replace("/type", "wwnn")), 400)
    error(patch(client, url, replace("/type", "bogus")), 400)
    assert ok(client.get(url))["type"] == "iqn"


def test_change_to_a_taken_id_is_409(client: TestClient, off_node: str) -> None:
    create_connector(client, off_node)
    second = create_connector(client, off_node, connector_id="iqn.2010-10.org.openstack:two")
    url = f"/v1/volume/connectors/{second['uuid']}"
    assert "already exists" in error(patch(client, url, replace("/connector_id", IQN)), 409)


def test_patch_uuid_is_400(client: TestClient, off_node: str) -> None:
    connector = create_connector(client, off_node)
    url = f"/v1/volume/connectors/{connector['uuid']}"
    assert error(patch(client, url, replace("/uuid", str(uuidlib.uuid4()))), 400) == (
        "Cannot patch /uuid. Only the following can be updated: connector_id, extra, "
        "node_uuid, type"
    )


def test_remove_required_field_is_400(client: TestClient, off_node: str) -> None:
    connector = create_connector(client, off_node)
    error(patch(client, f"/v1/volume/connectors/{connector['uuid']}", remove("/type")), 400)


def test_move_to_another_node(client: TestClient, off_node: str) -> None:
    connector = create_connector(client, off_node)
    other = create_node(client)["uuid"]
    url = f"/v1/volume/connectors/{connector['uuid']}"
    assert ok(patch(client, url, replace("/node_uuid", other)))["node_uuid"] == other
    assert (
        ok(client.get(f"/v1/nodes/{other}/volume/connectors"))["connectors"][0]["uuid"]
        == (connector["uuid"])
    )


def test_move_to_an_unknown_node_is_400(client: TestClient, off_node: str) -> None:
    connector = create_connector(client, off_node)
    ghost = str(uuidlib.uuid4())
    url = f"/v1/volume/connectors/{connector['uuid']}"
    assert ghost in error(patch(client, url, replace("/node_uuid", ghost)), 400)
    assert "Expected UUID for node_uuid" in error(
        patch(client, url, replace("/node_uuid", "x")), 400
    )


def test_patch_unknown_is_404(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    assert error(patch(client, f"/v1/volume/connectors/{ghost}", add("/extra/a", 1)), 404) == (
        f"Volume connector {ghost} could not be found."
    )
    error(patch(client, "/v1/volume/connectors/nope", add("/extra/a", 1)), 400)


# --- delete --------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["enroll", "manageable", "available", "adopt failed"])
def test_delete_allowed_states_whatever_the_power(
    client: TestClient, services: ApiServices, node: str, state: str
) -> None:
    connector = create_connector(client, node)
    force(services, node, provision_state=state, power_state="power on")
    response = client.delete(f"/v1/volume/connectors/{connector['uuid']}")
    assert response.status_code == 204
    error(client.get(f"/v1/volume/connectors/{connector['uuid']}"), 404)


def test_delete_while_active_and_powered_on_is_400(client: TestClient, node: str) -> None:
    connector = create_connector(client, node)
    to_active(client, node)
    url = f"/v1/volume/connectors/{connector['uuid']}"
    assert error(client.delete(url), 400) == (
        f'The requested action "volume connector deletion" can not be performed on node '
        f'"{node}" while it is in state "power on".'
    )
    power(client, node, "power off")
    assert client.delete(url).status_code == 204


def test_delete_unknown_is_404(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    error(client.delete(f"/v1/volume/connectors/{ghost}"), 404)
