"""A job's end: the landing ends it in one transaction; a settling caller is woken, not polled."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from ironbound.api import sync_jobs
from ironbound.api.services import ApiServices
from ironbound.conductor import flows
from ironbound.conductor.task import NodeTask
from ironbound.conductor.worker import Conductor
from ironbound.db import jobs, nodes
from ironbound.db.models import Job, NodeEvent
from ironbound.jobspec import JobKind, Provision
from tests.conftest import wait_for_state, wait_until


def _node(conductor: Conductor, uuid: str) -> tuple[str, str | None, list[str]]:
    with conductor.ctx.db.read() as session:
        node = nodes.get_by_uuid(session, uuid)
        kept = session.scalars(select(NodeEvent.event).where(NodeEvent.node_id == node.id))
        return node.provision_state, node.reservation, list(kept)


@contextmanager
def _counting_transactions(conductor: Conductor) -> Iterator[list[int]]:
    counted = [0]

    def begun(_conn: Any) -> None:
        counted[0] += 1

    engine = conductor.ctx.db.engine
    event.listen(engine, "begin", begun)
    try:
        yield counted
    finally:
        event.remove(engine, "begin", begun)


def test_manage_claims_loads_lands_and_ends_in_two_transactions(
    client: TestClient, conductor: Conductor
) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    conductor.stop()  # the job waits in the queue until counted
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "manage"})
    with _counting_transactions(conductor) as counted:
        assert conductor.run_one()
    assert counted[0] == 2, "the claim with the node's snapshot, then the landing with the end"
    state, holder, kept = _node(conductor, uuid)
    assert (state, holder) == ("manageable", None)
    assert kept[-2:] == ["read power state: started", "read power state: done"]
    with conductor.ctx.db.read() as session:
        assert session.scalar(select(Job.id)) is None
    conductor.start()


def test_a_flow_cannot_write_after_landing(
    client: TestClient, conductor: Conductor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the landing the node may already be another job's of this same conductor."""
    late: list[Exception] = []

    def lands_then_writes(task: NodeTask, args: dict[str, Any]) -> None:
        task.land()
        try:
            task.save(last_error="written after landing")
        except Exception as exc:
            late.append(exc)
            raise

    monkeypatch.setitem(flows.FLOWS, JobKind.VERIFY, lands_then_writes)
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "manage"})
    wait_for_state(client, uuid, "manageable")
    wait_until(lambda: bool(late), what="the late write to be refused")
    assert "no longer holds node" in str(late[0])
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert node["last_error"] is None and node["reservation"] is None


def _queued_job(client: TestClient, services: ApiServices, conductor: Conductor) -> int:
    """A job no worker will take: only the test says when it is done."""
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    conductor.stop()
    with services.db.write() as session:
        return jobs.enqueue(session, nodes.get_by_uuid(session, uuid).id, JobKind.VERIFY)


def test_a_settling_caller_beside_a_conductor_is_woken_without_reading_the_row(
    client: TestClient,
    services: ApiServices,
    conductor: Conductor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = _queued_job(client, services, conductor)
    services.signals.reopen()  # as this process's conductor, running, would have
    services.conf.set_override("settle_time", 10.0, group="api")
    reads: list[int] = []
    real_read = services.db.read

    @contextmanager
    def counted_read() -> Iterator[Any]:
        reads.append(1)
        with real_read() as session:
            yield session

    monkeypatch.setattr(services.db, "read", counted_read)
    finisher = threading.Timer(0.1, services.signals.job_finished, (job_id,))
    started = time.monotonic()
    finisher.start()
    sync_jobs.settle(services, job_id)
    finisher.join()
    assert time.monotonic() - started < 5.0, "woken by the finish, not by the 10 s bound"
    assert reads == [], "the row was read although the wake-up said the job was done"
    services.signals.close()
    conductor.start()


@pytest.mark.parametrize("beside_a_conductor", [True, False])
def test_a_settling_caller_sees_a_job_finished_elsewhere_in_the_row(
    client: TestClient, services: ApiServices, conductor: Conductor, beside_a_conductor: bool
) -> None:
    """No wake-up comes for a job another process's conductor ran: the row tells."""
    job_id = _queued_job(client, services, conductor)
    if beside_a_conductor:
        services.signals.reopen()
    services.conf.set_override("settle_time", 10.0, group="api")

    def finish_elsewhere() -> None:
        with services.db.write() as session:
            jobs.remove(session, job_id)

    finisher = threading.Timer(0.1, finish_elsewhere)
    started = time.monotonic()
    finisher.start()
    sync_jobs.settle(services, job_id)
    finisher.join()
    assert time.monotonic() - started < 5.0
    services.signals.close()
    conductor.start()


def test_a_failed_flow_is_ended_by_its_claim_in_one_transaction(
    client: TestClient, conductor: Conductor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim's exit shows the failure, lets the node go and removes the job at once."""

    def breaks(task: NodeTask, args: Any) -> None:
        task.record("about to break")
        raise RuntimeError("the flow broke")

    monkeypatch.setitem(flows.FLOWS, JobKind.VERIFY, breaks)
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    conductor.stop()
    client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "manage"})
    with _counting_transactions(conductor) as counted:
        assert conductor.run_one()
    assert counted[0] == 3, "the claim, the progress the flow kept, the job's end"
    state, holder, kept = _node(conductor, uuid)
    assert (state, holder, kept[-1]) == ("enroll", None, "about to break")
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert node["last_error"] == "verify failed: unexpected RuntimeError: the flow broke"
    with conductor.ctx.db.read() as session:
        assert session.scalar(select(Job.id)) is None
    conductor.start()


def test_a_job_takes_only_its_kinds_record(client: TestClient, services: ApiServices) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    with services.db.write() as session:
        node_id = nodes.get_by_uuid(session, uuid).id
        with pytest.raises(TypeError, match="A power job takes Power"):
            jobs.enqueue(session, node_id, JobKind.POWER, Provision("manage"))
