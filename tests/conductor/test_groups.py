"""Conductor groups: a conductor works only on the nodes of its own group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound import config, jobspec
from ironbound.conductor.worker import Conductor
from ironbound.db import jobs, nodes
from tests.api.helpers import create_node, force, ok
from tests.conftest import running_conductor, wait_for_state


@pytest.fixture
def rack_a(conf: cfg.ConfigOpts) -> Iterator[Conductor]:
    """A second conductor, in group "Rack-A" (stored lower case), on the same database."""
    overrides: dict[str, Any] = {
        "state_path": conf.state_path,
        "deploy.http_url": "http://192.0.2.1:8080",
        "conductor.workers_pool_size": 1,
        "conductor.conductor_group": "Rack-A",
    }
    with running_conductor(config.load(overrides=overrides), "rack-a-conductor") as worker:
        yield worker


def test_each_conductor_claims_only_its_groups_jobs(
    client: TestClient, conductor: Conductor, rack_a: Conductor
) -> None:
    assert rack_a.ctx.group == "rack-a"
    plain = create_node(client)["uuid"]
    grouped = create_node(client, conductor_group="rack-a")["uuid"]
    conductor.stop()
    rack_a.stop()  # keep the workers from taking the jobs first
    db = conductor.ctx.db
    with db.write() as session:
        for uuid in (plain, grouped):
            jobs.enqueue(session, nodes.get_by_uuid(session, uuid).id, jobspec.JobKind.VALIDATE)
    fake = ("fake-hardware",)
    with db.write() as session:
        job = jobs.claim(session, "rack-a-conductor", fake, group="rack-a")
        assert job is not None
        assert job.node_id == nodes.get_by_uuid(session, grouped).id
        assert jobs.claim(session, "rack-a-conductor", fake, group="rack-a") is None
    with db.write() as session:
        job = jobs.claim(session, "test-conductor", fake, group="")
        assert job is not None and job.node_id == nodes.get_by_uuid(session, plain).id
        assert jobs.claim(session, "test-conductor", fake, group="") is None
    conductor.start()
    rack_a.start()


def test_a_node_in_a_group_is_driven_by_that_groups_conductor(
    client: TestClient, conductor: Conductor, rack_a: Conductor
) -> None:
    node = create_node(client, conductor_group="rack-a")
    assert node["conductor"] == "rack-a-conductor"
    conductor.stop()  # only rack-a's conductor is left to do the work
    ok(client.put(f"/v1/nodes/{node['uuid']}/states/provision", json={"target": "manage"}), 202)
    wait_for_state(client, node["uuid"], "manageable")
    conductor.start()


def test_periodic_checks_cover_only_the_groups_nodes(
    client: TestClient, services: Any, conductor: Conductor, rack_a: Conductor
) -> None:
    plain = create_node(client)["uuid"]
    grouped = create_node(client, conductor_group="rack-a")["uuid"]
    for uuid in (plain, grouped):
        force(services, uuid, power_interface="ipmi", provision_state="manageable")
    with conductor.ctx.db.read() as session:
        ids = {uuid: nodes.get_by_uuid(session, uuid).id for uuid in (plain, grouped)}
        assert nodes.idle_with_real_power(session, "rack-a") == [ids[grouped]]
        assert nodes.idle_with_real_power(session, "") == [ids[plain]]
