"""Attachments over a node's life with a real Cinder: multi-attach, drift, Cinder going
away mid-life, and deleting a node that still holds volumes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound.lab import procs, tools
from ironbound.lab.cinder import CinderLab
from ironbound.lab.ports import accepts, free_tcp_port
from tests.cinder_support import attachments, cinder_config, enroll, wait_node
from tests.serving import Server, serve

pytestmark = pytest.mark.cinder


def _initiator() -> str:
    return f"iqn.2026-12.org.ironbound.cinder:{secrets.token_hex(4)}"


def _active(server: Server, node: str) -> None:
    server.baremetal(f"node deploy --wait 120 {node}")


def test_a_second_node_is_refused_a_volume_that_is_not_multiattach(
    server: Server, cinder_lab: CinderLab
) -> None:
    volume_id = cinder_lab.create_volume(1, name="single")
    first = enroll(server, "single-a", [volume_id], _initiator())
    _active(server, first)
    second = enroll(server, "single-b", [volume_id], _initiator())
    server.baremetal(f"node deploy {second}")
    failed = wait_node(server, second, lambda n: n["provision_state"] == "deploy failed", "failure")
    assert f"is in-use by {first} and is not multiattach" in failed["last_error"]
    assert [a["instance"] for a in attachments(cinder_lab, volume_id)] == [first]
    server.baremetal(f"node undeploy --wait 120 {first}")
    assert attachments(cinder_lab, volume_id) == []


def test_two_nodes_share_a_multiattach_volume_each_with_its_own_data(
    server: Server, cinder_lab: CinderLab
) -> None:
    volume_id = cinder_lab.create_volume(1, name="shared", multiattach=True)
    first = enroll(server, "shared-a", [volume_id], _initiator())
    second = enroll(server, "shared-b", [volume_id], _initiator())
    _active(server, first)
    before = server.json(f"volume target list --node {first} --fields uuid properties")
    _active(server, second)
    held = {a["instance"]: a["id"] for a in attachments(cinder_lab, volume_id)}
    assert set(held) == {first, second}
    for node in (first, second):
        recorded = server.node(node)["driver_internal_info"]["volume_attachments"]
        assert [e["attachment_id"] for e in recorded.values()] == [held[node]]
        props = server.json(f"volume target list --node {node} --fields properties")[0]
        assert props["properties"]["target_iqn"].endswith(volume_id)
    # Attaching the second node did not touch the first node's target (Ironic's does).
    assert server.json(f"volume target list --node {first} --fields uuid properties") == before
    server.baremetal(f"node undeploy --wait 120 {first}")
    assert [a["instance"] for a in attachments(cinder_lab, volume_id)] == [second]
    assert cinder_lab.volume(volume_id)["status"] == "in-use"
    server.baremetal(f"node undeploy --wait 120 {second}")
    assert cinder_lab.volume(volume_id)["status"] == "available"


def test_an_attachment_deleted_behind_ironbounds_back_is_reported(
    server: Server, cinder_lab: CinderLab
) -> None:
    volume_id = cinder_lab.create_volume(1, name="drift")
    node = enroll(server, "drift", [volume_id], _initiator())
    _active(server, node)
    (attachment,) = attachments(cinder_lab, volume_id)
    cinder_lab.block_storage(as_service=True).delete_attachment(attachment["id"])
    shown = wait_node(
        server, node, lambda n: (n["last_error"] or "").startswith("Storage drift:"), "drift"
    )
    assert f"Cinder no longer has attachment {attachment['id']}" in shown["last_error"]
    assert shown["provision_state"] == "active"
    assert "Storage drift:" in shown["driver_internal_info"]["progress"]
    # Not re-created behind the operator's back.
    assert attachments(cinder_lab, volume_id) == []
    # The next deploy (a rebuild) attaches it again and clears the drift.
    server.baremetal(f"node rebuild --wait 120 {node}")
    shown = server.node(node)
    assert shown["last_error"] is None
    assert "storage_drift" not in shown["driver_internal_info"]
    assert len(attachments(cinder_lab, volume_id)) == 1
    server.baremetal(f"node undeploy --wait 120 {node}")
    assert attachments(cinder_lab, volume_id) == []


def test_deleting_a_node_in_maintenance_detaches_its_volumes(
    server: Server, cinder_lab: CinderLab
) -> None:
    volume_id = cinder_lab.create_volume(1, name="deleted-node")
    node = enroll(server, "deleted-node", [volume_id], _initiator())
    _active(server, node)
    server.baremetal(f"node maintenance set {node}")
    server.baremetal(f"node delete {node}")
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
def relayed(
    cinder_lab: CinderLab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Relay]]:
    folder = tmp_path_factory.mktemp("relayed")
    relay = Relay(folder, int(cinder_lab.endpoint.rsplit(":", 1)[1].split("/")[0]))
    relay.up()
    try:
        endpoint = f"http://127.0.0.1:{relay.port}/v3"
        with serve(folder / "serve", cinder_config(cinder_lab, endpoint=endpoint)) as running:
            yield running, relay
    finally:
        relay.down()


def test_cinder_going_away_never_strands_a_node(
    relayed: tuple[Server, Relay], cinder_lab: CinderLab
) -> None:
    server, relay = relayed
    volume_id = cinder_lab.create_volume(1, name="relayed")
    node = enroll(server, "relayed", [volume_id], _initiator())

    relay.down()  # unreachable at deploy: deploy failed with the cause, nothing attached
    server.baremetal(f"node deploy {node}")
    failed = wait_node(server, node, lambda n: n["provision_state"] == "deploy failed", "failure")
    assert "Cinder is unreachable" in failed["last_error"]
    assert attachments(cinder_lab, volume_id) == []

    relay.up()
    _active(server, node)
    relay.down()  # unreachable at undeploy: error with the cause, the attachment kept
    server.baremetal(f"node undeploy {node}")
    stuck = wait_node(server, node, lambda n: n["provision_state"] == "error", "error")
    assert "Cinder is unreachable" in stuck["last_error"]
    assert "undeploy again once Cinder answers" in stuck["last_error"]
    assert len(attachments(cinder_lab, volume_id)) == 1

    relay.up()  # no maintenance mode needed: undeploy again
    server.baremetal(f"node undeploy --wait 120 {node}")
    assert server.node(node)["provision_state"] == "available"
    assert attachments(cinder_lab, volume_id) == []
