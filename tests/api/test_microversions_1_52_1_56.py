"""Microversions 1.52 to 1.56: allocation_uuid, port is_smartnic, network events, and
the endpoints Ironbound does not offer (allocations, deploy templates).

The JSON config drive of 1.56 is tested with the other config drive forms
(tests/api/test_configdrive.py).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import add, create_node, error, ok, patch, replace, v

MAC = "52:54:00:12:34:56"
SMARTNIC_LINK = {"port_id": "rep0-0", "hostname": "dpu-host-1"}


@pytest.fixture
def node(client: TestClient) -> str:
    return str(create_node(client)["uuid"])


# --- 1.52: a node's allocation_uuid ------------------------------------------------


def test_allocation_uuid_is_null_from_1_52(client: TestClient, node: str) -> None:
    url = f"/v1/nodes/{node}"
    assert "allocation_uuid" not in ok(client.get(url, headers=v(51)))
    assert ok(client.get(url, headers=v(52)))["allocation_uuid"] is None
    detail = ok(client.get("/v1/nodes/detail", headers=v(52)))["nodes"]
    assert [n["allocation_uuid"] for n in detail] == [None]
    only = ok(client.get(f"{url}?fields=allocation_uuid", headers=v(52)))
    assert only == {"allocation_uuid": None, "links": only["links"]}


@pytest.mark.parametrize("query", ["fields=uuid,allocation_uuid", "sort_key=allocation_uuid"])
def test_allocation_uuid_is_406_before_1_52(client: TestClient, node: str, query: str) -> None:
    message = error(client.get(f"/v1/nodes?{query}", headers=v(51)), 406)
    assert "allocation_uuid" in message


def test_allocation_uuid_is_read_only(client: TestClient, node: str) -> None:
    allocation = str(uuidlib.uuid4())
    body = {"driver": "fake-hardware", "allocation_uuid": allocation}
    # As Ironic: a field the version lacks is 406; at its version it is not settable.
    error(client.post("/v1/nodes", json=body, headers=v(51)), 406)
    assert "allocation_uuid" in error(client.post("/v1/nodes", json=body, headers=v(52)), 400)
    url = f"/v1/nodes/{node}"
    error(patch(client, url, add("/allocation_uuid", allocation), headers=v(51)), 406)
    message = error(patch(client, url, add("/allocation_uuid", allocation), headers=v(52)), 400)
    assert "/allocation_uuid" in message
    assert ok(client.get(url))["allocation_uuid"] is None


def test_a_read_only_field_newer_than_the_request_is_406_on_create(client: TestClient) -> None:
    # Ironic's rule covers every versioned field, read-only ones too (conductor: 1.49).
    body = {"driver": "fake-hardware", "conductor": "somewhere"}
    error(client.post("/v1/nodes", json=body, headers=v(48)), 406)
    error(client.post("/v1/nodes", json=body, headers=v(49)), 400)


# --- allocations and deploy templates: not offered ----------------------------------

NOT_OFFERED = [
    ("/v1/allocations", "allocations", 52),
    ("/v1/allocations/alloc-1", "allocations", 52),
    ("/v1/deploy_templates", "deploy templates", 55),
    (f"/v1/deploy_templates/{uuidlib.uuid4()}", "deploy templates", 55),
]


@pytest.mark.parametrize(("path", "feature", "since"), NOT_OFFERED)
def test_not_offered_before_its_version_as_ironic(
    client: TestClient, path: str, feature: str, since: int
) -> None:
    expected = f"The API version does not allow {feature}"
    assert error(client.get(path, headers=v(since - 1)), 404) == expected
    for method in ("POST", "PATCH", "DELETE"):
        response = client.request(method, path, json={}, headers=v(since - 1))
        assert error(response, 405) == expected


@pytest.mark.parametrize(("path", "feature", "since"), NOT_OFFERED)
def test_not_offered_at_its_version_says_so(
    client: TestClient, path: str, feature: str, since: int
) -> None:
    for minor in (since, 56):
        message = error(client.get(path, headers=v(minor)), 404)
        assert message.startswith(f"Ironbound does not offer {feature}")
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = client.request(method, path, json={"name": "x"}, headers=v(minor))
            assert error(response, 405).startswith(f"Ironbound does not offer {feature}")


def test_a_nodes_allocation_is_404_for_every_method(client: TestClient, node: str) -> None:
    for minor in (51, 52, 56):
        for method in ("GET", "DELETE"):
            response = client.request(method, f"/v1/nodes/{node}/allocation", headers=v(minor))
            error(response, 404)


def test_v1_links_only_what_is_served(client: TestClient) -> None:
    latest = ok(client.get("/v1", headers=v(56)))
    assert latest["version"]["version"] == "1.56"
    assert "events" in latest
    assert not {"allocations", "deploy_templates"} & set(latest)
    assert "events" not in ok(client.get("/v1", headers=v(53)))
    assert ok(client.get("/"))["default_version"]["version"] == "1.56"


# --- 1.53: a port's is_smartnic ------------------------------------------------------


def _port(client: TestClient, node: str, minor: int, **fields: Any) -> Any:
    body = {"node_uuid": node, "address": MAC, **fields}
    return client.post("/v1/ports", json=body, headers=v(minor))


def test_is_smartnic_appears_at_1_53(client: TestClient, node: str) -> None:
    port = ok(_port(client, node, 52), 201)
    assert "is_smartnic" not in port
    url = f"/v1/ports/{port['uuid']}"
    assert "is_smartnic" not in ok(client.get(url, headers=v(52)))
    assert ok(client.get(url, headers=v(53)))["is_smartnic"] is False
    error(client.get(f"{url}?fields=is_smartnic", headers=v(52)), 406)
    error(client.get("/v1/ports?sort_key=is_smartnic", headers=v(52)), 406)
    assert ok(client.get(f"{url}?fields=is_smartnic", headers=v(53)))["is_smartnic"] is False


def test_is_smartnic_set_on_create_needs_the_hosts_link(client: TestClient, node: str) -> None:
    error(_port(client, node, 52, is_smartnic=True), 406)
    message = error(_port(client, node, 53, is_smartnic=True), 400)
    assert message == "Smart NIC port must have port_id and hostname in local_link_connection"
    error(_port(client, node, 53, is_smartnic="yes", local_link_connection=SMARTNIC_LINK), 400)
    port = ok(_port(client, node, 53, is_smartnic=True, local_link_connection=SMARTNIC_LINK), 201)
    assert port["is_smartnic"] is True
    assert ok(client.get(f"/v1/ports/{port['uuid']}"))["is_smartnic"] is True


def test_is_smartnic_by_patch(client: TestClient, node: str) -> None:
    port = ok(_port(client, node, 53), 201)
    url = f"/v1/ports/{port['uuid']}"
    error(patch(client, url, replace("/is_smartnic", True), headers=v(52)), 406)
    # As Ironic, a PATCH does not check the link (only create does).
    changed = ok(patch(client, url, replace("/is_smartnic", True), headers=v(53)))
    assert changed["is_smartnic"] is True
    # A PATCH at an older version keeps what it cannot see.
    ok(patch(client, url, add("/extra/rack", "4"), headers=v(52)))
    assert ok(client.get(url))["is_smartnic"] is True


# --- 1.54: network events --------------------------------------------------------------


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "network.bind_port",
        "port_id": str(uuidlib.uuid4()),
        "mac_address": MAC,
        "status": "ACTIVE",
        "device_id": str(uuidlib.uuid4()),
        "binding:host_id": str(uuidlib.uuid4()),
        "binding:vnic_type": "baremetal",
    }
    event.update(changes)
    return {k: val for k, val in event.items() if val is not ...}


def test_events_answer_204(client: TestClient) -> None:
    body = {
        "events": [
            _event(),
            _event(event="network.unbind_port", device_id=None, **{"binding:host_id": None}),
            _event(event="network.delete_port", device_id=..., **{"binding:vnic_type": ...}),
        ]
    }
    response = client.post("/v1/events", json=body, headers=v(54))
    assert response.status_code == 204, response.text
    assert response.content == b""


def test_events_are_404_before_1_54(client: TestClient) -> None:
    assert error(client.post("/v1/events", json={"events": [_event()]}, headers=v(53)), 404)
    # The version is checked before the body, as Ironic's.
    error(client.post("/v1/events", json={"nonsense": 1}, headers=v(53)), 404)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "events"),
        ({"events": []}, "events"),
        ({"events": {}}, "events"),
        ({"events": [_event()], "more": 1}, "more"),
        ({"events": [_event(event="network.port_moved")]}, "event"),
        ({"events": [_event(port_id="port-1")]}, "port_id"),
        ({"events": [_event(mac_address="52:54:00:12:34")]}, "mac_address"),
        ({"events": [_event(status=...)]}, "status"),
        ({"events": [_event(status=1)]}, "status"),
        ({"events": [_event(device_id="vm-1")]}, "device_id"),
        ({"events": [_event(**{"binding:host_id": "compute-1"})]}, "binding:host_id"),
        ({"events": [_event(**{"binding:vnic_type": 7})]}, "binding:vnic_type"),
        ({"events": [_event(binding_host_id=str(uuidlib.uuid4()))]}, "binding_host_id"),
        ({"events": [_event(extra=1)]}, "extra"),
        ({"events": ["network.bind_port"]}, "events"),
        ([_event()], "events"),
    ],
)
def test_bad_events_are_400(client: TestClient, body: Any, words: str) -> None:
    message = error(client.post("/v1/events", json=body, headers=v(54)), 400)
    assert words in message


def test_events_take_no_get(client: TestClient) -> None:
    error(client.get("/v1/events", headers=v(54)), 405)
