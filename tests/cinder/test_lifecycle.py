"""Attachments over a node's life with a real Cinder: power actions, multi-attach, drift,
Cinder going away mid-life, and deleting a node that still holds volumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound.lab import procs, tools
from ironbound.lab.cinder import CinderLab
from ironbound.lab.ports import accepts, free_tcp_port
from tests.api.helpers import ok, power, provision
from tests.cinder.test_attach_errors import initiator
from tests.cinder_support import attachments, enroll, point_at_cinder, targets
from tests.conftest import wait_until

pytestmark = pytest.mark.cinder


def node_of(client: TestClient, node: str) -> dict[str, Any]:
    shown: dict[str, Any] = ok(client.get(f"/v1/nodes/{node}"))
    return shown


def test_power_actions_keep_the_attachment(client: TestClient, cinder_lab: CinderLab) -> None:
    volume_id = cinder_lab.create_volume(1, name="power")
    node = enroll(client, [volume_id], initiator())
    provision(client, node, "active", "active")
    (held,) = attachments(cinder_lab, volume_id)
    power(client, node, "power off")
    power(client, node, "power on")
    power(client, node, "rebooting")
    assert [a["id"] for a in attachments(cinder_lab, volume_id)] == [held["id"]]
    provision(client, node, "deleted", "available")


def test_a_second_node_is_refused_a_volume_that_is_not_multiattach(
    client: TestClient, cinder_lab: CinderLab
) -> None:
    volume_id = cinder_lab.create_volume(1, name="single")
    first = enroll(client, [volume_id], initiator())
    provision(client, first, "active", "active")
    second = enroll(client, [volume_id], initiator())
    provision(client, second, "active", "deploy failed")
    failed = node_of(client, second)
    assert f"is in-use by {first} and is not multiattach" in failed["last_error"]
    assert [a["instance"] for a in attachments(cinder_lab, volume_id)] == [first]
    provision(client, first, "deleted", "available")
    assert attachments(cinder_lab, volume_id) == []


def test_two_nodes_share_a_multiattach_volume_each_with_its_own_data(
    client: TestClient, cinder_lab: CinderLab
) -> None:
    volume_id = cinder_lab.create_volume(1, name="shared", multiattach=True)
    first = enroll(client, [volume_id], initiator())
    second = enroll(client, [volume_id], initiator())
    provision(client, first, "active", "active")
    before = targets(client, first)
    provision(client, second, "active", "active")
    held = {a["instance"]: a["id"] for a in attachments(cinder_lab, volume_id)}
    assert set(held) == {first, second}
    for node in (first, second):
        recorded = node_of(client, node)["driver_internal_info"]["volume_attachments"]
        assert [e["attachment_id"] for e in recorded.values()] == [held[node]]
        assert targets(client, node)[0]["properties"]["target_iqn"].endswith(volume_id)
    # Attaching the second node left the first node's target alone (Ironic's does not).
    assert targets(client, first) == before
    provision(client, first, "deleted", "available")
    assert [a["instance"] for a in attachments(cinder_lab, volume_id)] == [second]
    assert cinder_lab.volume(volume_id)["status"] == "in-use"
    provision(client, second, "deleted", "available")
    assert cinder_lab.volume(volume_id)["status"] == "available"


def test_an_attachment_deleted_behind_ironbounds_back_is_reported(
    client: TestClient, cinder_lab: CinderLab
) -> None:
    volume_id = cinder_lab.create_volume(1, name="drift")
    node = enroll(client, [volume_id], initiator())
    provision(client, node, "active", "active")
    (attachment,) = attachments(cinder_lab, volume_id)
    cinder_lab.block_storage(as_service=True).delete_attachment(attachment["id"])
    wait_until(
        lambda: (node_of(client, node)["last_error"] or "").startswith("Storage drift:"),
        timeout=30,
        what="the drift to show",
    )
    shown = node_of(client, node)
    assert f"Cinder no longer has attachment {attachment['id']}" in shown["last_error"]
    assert shown["provision_state"] == "active"
    assert "Storage drift:" in shown["driver_internal_info"]["progress"]
    # Not re-created behind the operator's back.
    assert attachments(cinder_lab, volume_id) == []
    # The next deploy (a rebuild) attaches it again and clears the drift.
    provision(client, node, "rebuild", "active")
    shown = node_of(client, node)
    assert shown["last_error"] is None
    assert "storage_drift" not in shown["driver_internal_info"]
    assert len(attachments(cinder_lab, volume_id)) == 1
    provision(client, node, "deleted", "available")
    assert attachments(cinder_lab, volume_id) == []


def test_deleting_a_node_in_maintenance_detaches_its_volumes(
    client: TestClient, cinder_lab: CinderLab
) -> None:
    volume_id = cinder_lab.create_volume(1, name="deleted-node")
    node = enroll(client, [volume_id], initiator())
    provision(client, node, "active", "active")
    ok(client.put(f"/v1/nodes/{node}/maintenance", json={"reason": "retiring"}), 202)
    ok(client.delete(f"/v1/nodes/{node}"), 204)
    assert attachments(cinder_lab, volume_id) == []
    assert cinder_lab.volume(volume_id)["status"] == "available"


class Relay:
    """A TCP relay to Cinder's API that the test can cut, as if Cinder went away."""

    def __init__(self, workdir: Path, target_port: int) -> None:
        self.port = free_tcp_port()
        self.workdir = workdir
        self.target_port = target_port
        self._daemon: procs.Daemon | None = None

    def up(self) -> None:
        self._daemon = procs.Daemon(
            "cinder-relay",
            [
                tools.program("socat"),
                f"TCP-LISTEN:{self.port},bind=127.0.0.1,fork,reuseaddr",
                f"TCP:127.0.0.1:{self.target_port}",
            ],
            self.workdir / "relay.log",
        )
        procs.wait_until(lambda: accepts(self.port), "the relay", 10.0, self._daemon)

    def down(self) -> None:
        if self._daemon is not None:
            self._daemon.stop(timeout=5.0)
            self._daemon = None


@pytest.fixture
def relay(tmp_path: Path, cinder_lab: CinderLab) -> Iterator[Relay]:
    cinder_port = int(cinder_lab.endpoint.rsplit(":", 1)[1].split("/")[0])
    running = Relay(tmp_path, cinder_port)
    running.up()
    yield running
    running.down()


@pytest.fixture
def conf(conf: cfg.ConfigOpts, cinder_lab: CinderLab, relay: Relay) -> cfg.ConfigOpts:
    """This module's Ironbound reaches Cinder through the relay."""
    point_at_cinder(conf, cinder_lab, endpoint=f"http://127.0.0.1:{relay.port}/v3")
    return conf


def test_cinder_going_away_never_strands_a_node(
    client: TestClient, cinder_lab: CinderLab, relay: Relay
) -> None:
    volume_id = cinder_lab.create_volume(1, name="relayed")
    node = enroll(client, [volume_id], initiator())

    relay.down()  # unreachable at deploy: deploy failed with the cause, nothing attached
    provision(client, node, "active", "deploy failed")
    assert "Cinder is unreachable" in node_of(client, node)["last_error"]
    assert attachments(cinder_lab, volume_id) == []

    relay.up()
    provision(client, node, "active", "active")
    relay.down()  # unreachable at undeploy: error with the cause, the attachment kept
    provision(client, node, "deleted", "error")
    stuck = node_of(client, node)["last_error"]
    assert "Cinder is unreachable" in stuck
    assert "undeploy again once Cinder answers" in stuck
    assert len(attachments(cinder_lab, volume_id)) == 1

    relay.up()  # no maintenance mode needed: undeploy again
    provision(client, node, "deleted", "available")
    assert attachments(cinder_lab, volume_id) == []
