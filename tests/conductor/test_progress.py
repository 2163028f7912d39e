"""Progress records: kept until the flow's next write, written by themselves when a step runs long."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ironbound.conductor.worker import Conductor
from ironbound.db import nodes
from ironbound.db.models import NodeEvent
from tests.conftest import wait_for_state, wait_until


def _events(conductor: Conductor, uuid: str) -> list[NodeEvent]:
    with conductor.ctx.db.read() as session:
        node_id = nodes.get_by_uuid(session, uuid).id
        query = select(NodeEvent).where(NodeEvent.node_id == node_id).order_by(NodeEvent.id)
        return list(session.scalars(query))


def _progress(client: TestClient, uuid: str) -> str:
    node: dict[str, Any] = client.get(f"/v1/nodes/{uuid}").json()
    return str(node["driver_internal_info"].get("progress", ""))


def test_a_quick_flow_stores_every_record_in_order(
    client: TestClient, conductor: Conductor
) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "manage"})
    wait_for_state(client, uuid, "manageable")
    recorded = _events(conductor, uuid)
    messages = [event.event for event in recorded]
    started = messages.index("read power state: started")
    assert messages[started + 1] == "read power state: done", messages
    times = [event.created_at for event in recorded]
    assert times == sorted(times)
    assert all(event.conductor == "test-conductor" for event in recorded)
    assert _progress(client, uuid).endswith(messages[-1])


class TestALongStep:
    @pytest.fixture
    def overrides(self) -> dict[str, Any]:
        return {"fake.deploy_delay": 2.0}

    def test_shows_that_it_started_while_it_runs(
        self, client: TestClient, conductor: Conductor
    ) -> None:
        body = {"driver": "fake-hardware", "storage_interface": "noop", "network_interface": "noop"}
        uuid = client.post("/v1/nodes", json=body).json()["uuid"]
        for verb, state in (("manage", "manageable"), ("provide", "available")):
            client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb})
            wait_for_state(client, uuid, state)
        client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
        wait_until(
            lambda: _progress(client, uuid).endswith("deploy: started"),
            timeout=1.5,
            what="the running step's start to show",
        )
        assert client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "deploying"
        wait_for_state(client, uuid, "active")
        messages = [event.event for event in _events(conductor, uuid)]
        assert messages.count("deploy: started") == 1  # written once, by the progress thread
        assert messages.index("deploy: done") > messages.index("deploy: started")
