"""Claiming jobs: a conductor only takes work for hardware it drives."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ironbound import jobspec
from ironbound.conductor.worker import Conductor
from ironbound.db import jobs, nodes
from ironbound.db.models import Job
from tests.conftest import wait_until


def test_a_conductor_claims_only_its_hardware_types(
    client: TestClient, conductor: Conductor
) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    conductor.stop()  # keep its workers from taking the job first
    db = conductor.ctx.db
    with db.write() as session:
        node_id = nodes.get_by_uuid(session, uuid).id
        jobs.enqueue(session, node_id, jobspec.JobKind.VALIDATE)
    with db.write() as session:
        assert jobs.claim(session, "redfish-only", ("redfish",), group="") is None
    with db.write() as session:
        job = jobs.claim(session, "fake-too", ("redfish", "fake-hardware"), group="")
        assert job is not None and job.node_id == node_id
        row = session.get(Job, job.id)
        assert row is not None and (row.status, row.conductor) == ("running", "fake-too")
    conductor.start()


def test_maintenance_body_must_be_an_object(client: TestClient) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    response = client.put(f"/v1/nodes/{uuid}/maintenance", json=["reason"])
    assert response.status_code == 400
    assert client.put(f"/v1/nodes/{uuid}/maintenance", json={"reason": "disk"}).status_code == 202
    assert client.get(f"/v1/nodes/{uuid}").json()["maintenance_reason"] == "disk"


@pytest.mark.parametrize(
    "overrides",
    [{"conductor.workers_pool_size": 1, "fake.power_delay": 3.0, "api.settle_time": 0.0}],
)
def test_questions_do_not_wait_behind_long_jobs(client: TestClient) -> None:
    """Every worker busy with a slow power action: validate still answers at once."""
    busy, other = (
        client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"] for _ in "ab"
    )
    client.put(f"/v1/nodes/{busy}/states/power", json={"target": "power on"})
    wait_until(
        lambda: client.get(f"/v1/nodes/{busy}").json()["reservation"] is not None,
        what="the slow power action to start",
    )
    assert client.get(f"/v1/nodes/{other}/validate").status_code == 200
    assert client.get(f"/v1/nodes/{other}/management/boot_device").status_code == 200
    # ... and both answered while the only ordinary worker was still busy.
    assert client.get(f"/v1/nodes/{busy}").json()["target_power_state"] == "power on"
