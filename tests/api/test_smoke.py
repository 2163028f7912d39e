"""The admin guide's sequence on fake-hardware, through the HTTP API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import wait_for_state


def test_guide_sequence_cinder_without_a_cinder(client: TestClient) -> None:
    """The guide's cinder sequence with no [cinder] configured: every step says why it stops.

    (With a real Cinder, tests/cli/test_guide_cinder.py walks it to active and back.)
    """
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
    storage = client.get("/v1/nodes/bfv-node-1/validate").json()["storage"]
    assert storage["result"] is False
    assert "reading volume vol-1: [cinder]auth_type is not set" in storage["reason"]
    for verb, state in (("manage", "manageable"), ("provide", "available")):
        response = client.put("/v1/nodes/bfv-node-1/states/provision", json={"target": verb})
        assert response.status_code == 202, response.text
        wait_for_state(client, uuid, state)
    client.put("/v1/nodes/bfv-node-1/states/provision", json={"target": "active"})
    wait_for_state(client, uuid, "deploy failed")
    failed = client.get("/v1/nodes/bfv-node-1").json()
    assert failed["last_error"].startswith("validate failed: storage: Failed to validate cinder")
    # Nothing was attached, so undeploying needs no Cinder either.
    client.put("/v1/nodes/bfv-node-1/states/provision", json={"target": "deleted"})
    wait_for_state(client, uuid, "available")
