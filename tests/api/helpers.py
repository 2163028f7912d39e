"""Small builders and checks shared by the API tests.

Everything goes through the HTTP surface except `force`, which writes node
columns straight into the database to reach states no flow of the fake
drivers ends in (``error``, say); the API then reads what it would read
after a real failure.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from typing import Any, Protocol

from fastapi.testclient import TestClient
from sqlalchemy import update

from ironbound.api.services import ApiServices
from ironbound.db.models import Node
from tests.conftest import wait_for_state, wait_until

VERSION_HEADER = "X-OpenStack-Ironic-API-Version"
MIN_HEADER = "X-OpenStack-Ironic-API-Minimum-Version"
MAX_HEADER = "X-OpenStack-Ironic-API-Maximum-Version"

IQN = "iqn.2010-10.org.openstack.node1"
TARGET_IQN = "iqn.2010-10.com.example:vol-x"


#: The node fields of the real boot-from-volume path: ipxe, direct, external storage.
BFV_FIELDS: dict[str, Any] = {
    "boot_interface": "ipxe",
    "deploy_interface": "direct",
    "storage_interface": "external",
    "properties": {"capabilities": "iscsi_boot:True"},
}


def v(minor: int | str) -> dict[str, str]:
    """Headers that ask for microversion 1.`minor` (or a literal such as 'latest')."""
    value = f"1.{minor}" if isinstance(minor, int) else minor
    return {VERSION_HEADER: value}


def envelope(response: Any) -> dict[str, Any]:
    """The inner fault of an error response, after checking Ironic's envelope strictly."""
    body = response.json()
    assert set(body) == {"error_message"}, body
    assert isinstance(body["error_message"], str), "error_message must be a JSON string"
    fault = json.loads(body["error_message"])
    assert set(fault) == {"faultcode", "faultstring", "debuginfo"}, fault
    assert fault["faultcode"] == ("Server" if response.status_code >= 500 else "Client")
    assert isinstance(fault["faultstring"], str)
    assert fault["debuginfo"] is None
    return dict(fault)


def error(response: Any, status: int) -> str:
    """Assert `status` and the envelope; return the faultstring."""
    assert response.status_code == status, (response.status_code, response.text)
    return str(envelope(response)["faultstring"])


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def create_node(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"driver": "fake-hardware", **fields}
    return dict(ok(client.post("/v1/nodes", json=body), 201))


def create_connector(
    client: TestClient, node: str, kind: str = "iqn", connector_id: str = IQN, **extra: Any
) -> dict[str, Any]:
    body = {"node_uuid": node, "type": kind, "connector_id": connector_id, **extra}
    return dict(ok(client.post("/v1/volume/connectors", json=body), 201))


def iscsi_properties(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "target_iqn": TARGET_IQN,
        "target_portal": "192.0.2.10:3260",
        "target_lun": 0,
    }
    props.update(overrides)
    return props


def create_target(
    client: TestClient,
    node: str,
    boot_index: int = 0,
    volume_type: str = "iscsi",
    volume_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "node_uuid": node,
        "volume_type": volume_type,
        "boot_index": boot_index,
        "volume_id": volume_id or f"vol-{uuidlib.uuid4()}",
        **extra,
    }
    return dict(ok(client.post("/v1/volume/targets", json=body), 201))


def patch(client: TestClient, url: str, *ops: dict[str, Any], **kwargs: Any) -> Any:
    return client.patch(url, json=list(ops), **kwargs)


def add(path: str, value: Any) -> dict[str, Any]:
    return {"op": "add", "path": path, "value": value}


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def remove(path: str) -> dict[str, Any]:
    return {"op": "remove", "path": path}


def provision(client: TestClient, node: str, verb: str, state: str | None = None) -> None:
    """Send a provision verb (202) and, if `state` is given, wait for the node to settle there."""
    ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": verb}), 202)
    if state is not None:
        wait_for_state(client, node, state)


class Caller(Protocol):
    """What `power` needs of a client: a TestClient, or a wrapper that adds credentials."""

    def get(self, url: str) -> Any: ...

    def put(self, url: str, *, json: Any) -> Any: ...


def power(client: Caller, node: str, target: str) -> None:
    """Switch the node's power through the API and wait for the conductor to finish."""
    ok(client.put(f"/v1/nodes/{node}/states/power", json={"target": target}), 202)
    reached = "power off" if "off" in target else "power on"

    def done() -> bool:
        seen = client.get(f"/v1/nodes/{node}").json()
        return bool(seen["power_state"] == reached and seen["target_power_state"] is None)

    wait_until(done, what=f"node {node} to reach {reached}")


def to_active(client: TestClient, node: str) -> None:
    """enroll → manageable → available → active, then power on (the guide's sequence).

    The fake deploy interface powers nothing on, as in Ironic.
    """
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    provision(client, node, "active", "active")
    power(client, node, "power on")


def force(services: ApiServices, node: str, **fields: Any) -> None:
    """Write node columns directly (to reach states the fake drivers never fail into)."""
    with services.db.write() as session:
        session.execute(update(Node).where(Node.uuid == node).values(**fields))
