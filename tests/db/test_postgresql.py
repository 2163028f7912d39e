"""Ironbound on PostgreSQL: the schema, the API, and several conductors sharing the queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg
from sqlalchemy import select, update

from ironbound import config
from ironbound.conductor.context import ConductorContext
from ironbound.conductor.worker import Conductor
from ironbound.db import conductors, jobs
from ironbound.db.models import Conductor as ConductorRow
from ironbound.db.models import Node, NodeEvent
from ironbound.db.session import Database
from ironbound.drivers.registry import Registry
from ironbound.jobspec import JobKind
from ironbound.sensitive import SecretBox
from tests.conftest import wait_for_state, wait_until


@pytest.fixture
def overrides(postgres_url: str) -> dict[str, Any]:
    # No settling and a quick poll: jobs pile up and both conductors compete
    # for them, as when several API processes feed several conductors.
    return {
        "database.connection": postgres_url,
        "conductor.heartbeat_interval": 0.2,
        "conductor.heartbeat_timeout": 2.0,
        "conductor.job_poll_interval": 0.05,
        "api.settle_time": 0.0,
        "fake.deploy_delay": 0.05,
    }


@pytest.fixture
def second_conductor(conf: cfg.ConfigOpts, conductor: Conductor) -> Iterator[Conductor]:
    """Another conductor process's worth of workers, on the same database."""
    db = Database(config.database_url(conf))
    other = Conductor(
        ConductorContext(
            conf=conf,
            db=db,
            box=SecretBox.from_file(config.state_path(conf) / "secret.key"),
            registry=Registry(conf),
            hostname="second-conductor",
        )
    )
    other.start()
    yield other
    other.stop()
    db.dispose()


def test_guide_sequence_on_postgresql(client: TestClient, conductor: Conductor) -> None:
    assert conductor.ctx.db.engine.dialect.name == "postgresql"
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "pg-node"}).json()[
        "uuid"
    ]
    client.patch(f"/v1/nodes/{uuid}", json=[{"op": "add", "path": "/storage_interface", "value": "external"},
                                           {"op": "add", "path": "/properties/capabilities", "value": "iscsi_boot:True"}])  # fmt: skip
    client.post(
        "/v1/volume/connectors",
        json={"node_uuid": uuid, "type": "iqn", "connector_id": "iqn.2010-10.org.openstack.node1"},
    )
    props = {
        "target_iqn": "iqn.2010-10.com.example:v",
        "target_portal": "192.0.2.10:3260",
        "target_lun": 0,
        "auth_method": "CHAP",
        "auth_username": "u",
        "auth_password": "pw",
    }
    target = client.post("/v1/volume/targets", json={"node_uuid": uuid, "volume_type": "iscsi", "boot_index": 0,
                                                    "volume_id": "v", "properties": props})  # fmt: skip
    assert target.status_code == 201 and target.json()["properties"]["auth_password"] == "******"
    duplicate = client.post(
        "/v1/volume/targets",
        json={"node_uuid": uuid, "volume_type": "iscsi", "boot_index": 0, "volume_id": "w"},
    )
    assert duplicate.status_code == 409
    assert client.get(f"/v1/nodes/{uuid}/validate").json()["storage"]["result"] is True
    for verb, state in (
        ("manage", "manageable"),
        ("provide", "available"),
        ("active", "active"),
        ("deleted", "available"),
    ):
        assert (
            client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb}).status_code
            == 202
        )
        wait_for_state(client, uuid, state)
    page = client.get("/v1/nodes?limit=1&sort_key=name&sort_dir=desc").json()
    assert [n["uuid"] for n in page["nodes"]] == [uuid]


def test_two_conductors_share_the_work(
    client: TestClient, conductor: Conductor, second_conductor: Conductor
) -> None:
    uuids = [
        client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"] for _ in range(30)
    ]
    for verb, state in (("manage", "manageable"), ("provide", "available"), ("active", "active")):
        for uuid in uuids:
            assert (
                client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb}).status_code
                == 202
            )
        for uuid in uuids:
            wait_for_state(client, uuid, state)

    def all_released() -> bool:
        # A flow lands its node before its worker lets go of the lock.
        with conductor.ctx.db.read() as session:
            return session.scalar(select(Node.id).where(Node.reservation.is_not(None))) is None

    wait_until(all_released, what="every lock to be released")
    with conductor.ctx.db.read() as session:
        workers = set(
            session.scalars(select(NodeEvent.conductor).where(NodeEvent.conductor.is_not(None)))
        )
    assert workers == {"test-conductor", "second-conductor"}


def test_survivor_takes_over_a_dead_conductor(
    client: TestClient, conductor: Conductor, second_conductor: Conductor
) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    db = conductor.ctx.db
    second_conductor.stop()
    # What a crash of the second conductor in mid-deploy leaves behind:
    with db.write() as session:
        session.execute(
            update(Node).where(Node.uuid == uuid)
            .values(provision_state="deploying", target_provision_state="active", reservation="second-conductor")
        )  # fmt: skip
        conductors.register(session, "second-conductor", [])
        session.execute(
            update(ConductorRow).where(ConductorRow.hostname == "second-conductor")
            .values(heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )  # fmt: skip
    with db.read() as session:
        node_id = session.scalars(select(Node.id).where(Node.uuid == uuid)).one()

    def taken_over() -> bool:
        """Failed, and the clean-up the takeover queued with that (one transaction) has run."""
        if client.get(f"/v1/nodes/{uuid}").json()["provision_state"] != "deploy failed":
            return False
        with db.read() as session:
            return not jobs.has_pending(session, node_id, JobKind.ABANDONED_DEPLOY)

    wait_until(taken_over, timeout=15, what="the surviving conductor to take over and clean up")
    node = client.get(f"/v1/nodes/{uuid}").json()
    assert node["reservation"] is None
    assert "Conductor second-conductor stopped heartbeating" in node["last_error"]
    second_conductor.start()  # the fixture stops it again
