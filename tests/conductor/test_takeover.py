"""Crash recovery: a conductor that died leaves no node locked or half-done."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ironbound import jobspec
from ironbound.conductor.worker import Conductor
from ironbound.db import conductors, jobs
from ironbound.db.models import Conductor as ConductorRow
from ironbound.db.models import Job, Node
from tests.conftest import wait_for_state, wait_until


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"conductor.heartbeat_interval": 0.1, "conductor.heartbeat_timeout": 1.0}


def _node(client: TestClient) -> str:
    return str(client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"])


def test_dead_conductor_is_taken_over(client: TestClient, conductor: Conductor) -> None:
    uuid = _node(client)
    db = conductor.ctx.db
    with db.write() as session:
        conductors.register(session, "crashed-host", [])
        session.execute(
            update(ConductorRow)
            .where(ConductorRow.hostname == "crashed-host")
            .values(heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        )
        session.execute(
            update(Node)
            .where(Node.uuid == uuid)
            .values(provision_state="deploying", target_provision_state="active",
                    reservation="crashed-host", target_power_state="power on")
        )  # fmt: skip
        node_id = session.query(Node.id).filter(Node.uuid == uuid).scalar()
        job = session.get(Job, jobs.enqueue(session, node_id, jobspec.JobKind.DEPLOY))
        assert job is not None
        job.status, job.conductor = "running", "crashed-host"

    def failed() -> bool:
        """Failed, and the clean-up the takeover queued with that (one transaction) has run."""
        if client.get(f"/v1/nodes/{uuid}").json()["provision_state"] != "deploy failed":
            return False
        with db.read() as session:
            return not jobs.has_pending(session, node_id, jobspec.JobKind.ABANDONED_DEPLOY)

    wait_until(failed, timeout=10, what="the takeover and its clean-up")
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert node["reservation"] is None
    assert node["target_provision_state"] is None
    assert node["target_power_state"] is None
    assert "Conductor crashed-host stopped heartbeating" in node["last_error"]
    assert "'deploying'" in node["last_error"]
    with db.read() as session:
        assert not jobs.has_pending(session, node_id, jobspec.JobKind.DEPLOY)
        # Marked offline: no survivor takes it over again. (Only it: under load this
        # test's own conductor may miss a 0.1 s heartbeat by a second.)
        assert "crashed-host" not in conductors.dead(session, 1.0)


def test_restart_under_the_same_name_fails_what_it_left(
    client: TestClient, conductor: Conductor
) -> None:
    uuid = _node(client)
    conductor.stop()
    # What a run that crashed would have left behind:
    with conductor.ctx.db.write() as session:
        session.execute(
            update(Node)
            .where(Node.uuid == uuid)
            .values(provision_state="cleaning", target_provision_state="available",
                    reservation=conductor.ctx.hostname)
        )  # fmt: skip
    conductor.start()
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert node["provision_state"] == "clean failed"
    assert node["reservation"] is None
    assert f"Conductor {conductor.ctx.hostname} restarted" in node["last_error"]
    # ... and works again afterwards.
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "manage"})
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "manageable",
        what="a job after the restart",
    )


@pytest.mark.parametrize(
    # The deploy step outlasts the PUT's [api]settle_time (0.5 s) well: the test takes the
    # node over while the step runs.
    "overrides",
    [{"fake.deploy_delay": 1.5, "conductor.heartbeat_timeout": 60.0}],
)
def test_a_flow_that_lost_its_lock_writes_nothing_more(
    client: TestClient, conductor: Conductor
) -> None:
    """Fencing: once another conductor holds the node, the old flow's writes are refused."""
    uuid = str(
        client.post(
            "/v1/nodes", json={"driver": "fake-hardware", "deploy_interface": "fake"}
        ).json()["uuid"]
    )
    for verb, state in (("manage", "manageable"), ("provide", "available")):
        client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb})
        wait_for_state(client, uuid, state)
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["reservation"] == "test-conductor",
        what="the deploy to start",
    )
    with conductor.ctx.db.write() as session:
        conductors.register(session, "usurper", [])  # a live conductor took the node over
        session.execute(update(Node).where(Node.uuid == uuid).values(reservation="usurper"))
    time.sleep(2.0)  # the fake deploy step ends and the flow tries to land the node
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert node["provision_state"] == "deploying"
    assert node["reservation"] == "usurper"
    assert node["last_error"] is None


@pytest.mark.parametrize("registered", [True, False], ids=["offline", "never-registered"])
def test_a_holder_that_is_no_live_conductor_is_taken_over(
    client: TestClient, conductor: Conductor, registered: bool
) -> None:
    """A lock held by a stopped conductor (or a name no conductor has) cannot outlive it."""
    uuid = _node(client)
    with conductor.ctx.db.write() as session:
        if registered:
            conductors.register(session, "gone-host", [])
            conductors.unregister(session, "gone-host")
        session.execute(
            update(Node)
            .where(Node.uuid == uuid)
            .values(provision_state="verifying", target_provision_state="manageable",
                    reservation="gone-host")
        )  # fmt: skip
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["reservation"] is None, what="the takeover"
    )
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert node["provision_state"] == "enroll"
    assert (
        "Conductor gone-host is gone while the node was in state 'verifying'"
        in (node["last_error"])
    )
