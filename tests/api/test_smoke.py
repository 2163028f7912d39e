"""The admin guide's sequence on fake-hardware, through the HTTP API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import wait_for_state


def test_guide_sequence_cinder(client: TestClient) -> None:
    node = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "bfv-node-1"})
    assert node.status_code == 201, node.text
    uuid = node.json()["uuid"]
    assert node.json()["provision_state"] == "enroll"
    patch = [{"op": "add", "path": "/storage_interface", "value": "cinder"}]
    assert client.patch("/v1/nodes/bfv-node-1", json=patch).status_code == 200
    caps = [{"op": "add", "path": "/properties/capabilities", "value": "iscsi_boot:True"}]
    assert client.patch("/v1/nodes/bfv-node-1", json=caps).status_code == 200
    connector = client.post(
        "/v1/volume/connectors",
        json={"node_uuid": uuid, "type": "iqn", "connector_id": "iqn.2010-10.org.openstack.node1"},
    )
    assert connector.status_code == 201, connector.text
    target = client.post(
        "/v1/volume/targets",
        json={"node_uuid": uuid, "volume_type": "iscsi", "boot_index": 0, "volume_id": "vol-1"},
    )
    assert target.status_code == 201, target.text
    validation = client.get("/v1/nodes/bfv-node-1/validate").json()
    assert validation["storage"] == {"result": True, "reason": None}
    for verb, state in (
        ("manage", "manageable"),
        ("provide", "available"),
        ("active", "active"),
        ("deleted", "available"),
    ):
        response = client.put("/v1/nodes/bfv-node-1/states/provision", json={"target": verb})
        assert response.status_code == 202, response.text
        wait_for_state(client, uuid, state)
