"""A conductor killed at the awkward points of a deploy or an undeploy (tests/managed/
kills.py aims the kill; test_takeover.py kills real processes): after the takeover,
tgtd serves nothing that no node holds, and no volume the node keeps is deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg
from sqlalchemy import select

from ironbound import records
from ironbound.api.services import ApiServices
from ironbound.conductor.worker import Conductor
from ironbound.db import nodes
from ironbound.db.models import Job
from ironbound.lab.tgt import TgtServer
from tests import configdrive_support as drives
from tests.api.helpers import ok, patch, provision, replace
from tests.conftest import wait_for_state, wait_until
from tests.managed import fleet, kills
from tests.managed.conftest import point_at
from tests.managed.support import enroll, initiator, name_volume
from tests.managed.test_config_drive_external import BOOT_PROPS
from tests.managed.test_config_drive_external import enroll as enroll_external


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Takeover within a second of a conductor's death."""
    return {"conductor.heartbeat_interval": 0.1, "conductor.heartbeat_timeout": 1.0}


@pytest.fixture
def killer(
    services: ApiServices,
    conductor: Conductor,
    conf: cfg.ConfigOpts,
    own_tgtd: TgtServer,
    monkeypatch: pytest.MonkeyPatch,
) -> kills.Killer:
    point_at(conf, own_tgtd)
    killer = kills.Killer(services.db)
    kills.install(monkeypatch, conductor, killer)
    return killer


def _killed(
    client: TestClient, services: ApiServices, killer: kills.Killer, node: str, body: Any
) -> dict[str, Any]:
    """Send the provision request; the node once the takeover and its clean-up are done."""
    ok(client.put(f"/v1/nodes/{node}/states/provision", json=body), 202)
    wait_until(killer.fired.is_set, what="the kill")
    shown: dict[str, Any] = {}

    def settled() -> bool:
        shown.update(ok(client.get(f"/v1/nodes/{node}")))
        with services.db.read() as session:
            node_id = nodes.get_by_uuid(session, node).id
            queued = session.scalars(select(Job.id).where(Job.node_id == node_id)).first()
        return (
            shown["reservation"] is None
            and shown["target_provision_state"] is None
            and (queued is None)
        )

    wait_until(settled, what="the takeover and its clean-up")
    assert f"Conductor {kills.GONE}" in shown["last_error"], shown["last_error"]
    return shown


def _live(tgtd: TgtServer, conf: cfg.ConfigOpts) -> set[str]:
    return {t for t in fleet.live_targets(tgtd) if t.startswith(conf.managed.target_prefix)}


def _nothing_live(tgtd: TgtServer, conf: cfg.ConfigOpts) -> None:
    assert _live(tgtd, conf) == set()
    assert fleet.live_accounts(tgtd) == set()


def _kept_shareable(
    client: TestClient, services: ApiServices, iqn: str
) -> tuple[str, records.ManagedVolume]:
    """A node that ran on its volume and kept it, the volume now shareable."""
    node = enroll(client, iqn, keep_boot_volume=True)
    provision(client, node, "active", "active")
    provision(client, node, "deleted", "available")
    (volume,) = fleet.volumes(services).values()
    ok(patch(client, f"/v1/volume/managed/{volume.uuid}", replace("/shareable", True)))
    return node, volume


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("point", ["export", "record"])
def test_an_attach_killed_before_the_node_records_it_leaves_no_export(
    client: TestClient, services: ApiServices, killer: kills.Killer, own_tgtd: TgtServer,
    conf: cfg.ConfigOpts, point: str, keep: bool,
) -> None:  # fmt: skip
    """tgtd made the export (and perhaps its row is written), the node's record is not:
    the clean-up still ends it; the volume is kept, since nothing says what it holds."""
    iqn = initiator()
    node = enroll(client, iqn, keep_boot_volume=keep)
    killer.arm(point, node, iqn)
    shown = _killed(client, services, killer, node, {"target": "active"})
    assert shown["provision_state"] == "deploy failed"
    _nothing_live(own_tgtd, conf)
    (volume,) = fleet.volumes(services).values()
    assert volume.state == "kept" and volume.node_uuid == node and Path(volume.path).exists()
    # The node deploys again, onto the same volume.
    provision(client, node, "deleted", "available")
    provision(client, node, "active", "active")
    assert set(fleet.volumes(services)) == {volume.uuid}
    assert _live(own_tgtd, conf) == {volume.target_iqn}
    provision(client, node, "deleted", "available")
    ok(client.delete(f"/v1/volume/managed/{volume.uuid}"), 204)


def test_a_shareable_volume_exported_by_a_killed_attach_is_ended_too(
    client: TestClient, services: ApiServices, killer: kills.Killer, own_tgtd: TgtServer,
    conf: cfg.ConfigOpts,
) -> None:  # fmt: skip
    """A kept shareable volume: tgtd's ACL, the node's initiator alone, tells the dead
    attach's export from another node's attach under way."""
    iqn = initiator()
    node, volume = _kept_shareable(client, services, iqn)
    killer.arm("export", node, iqn)
    shown = _killed(client, services, killer, node, {"target": "active"})
    assert shown["provision_state"] == "deploy failed"
    _nothing_live(own_tgtd, conf)
    assert fleet.volumes(services)[volume.uuid].state == "kept"
    provision(client, node, "deleted", "available")
    ok(client.delete(f"/v1/volume/managed/{volume.uuid}"), 204)


def test_an_attach_of_another_nodes_volume_killed_before_its_row_leaves_no_export(
    client: TestClient, services: ApiServices, killer: kills.Killer, own_tgtd: TgtServer,
    conf: cfg.ConfigOpts,
) -> None:  # fmt: skip
    """b's boot target names a's kept shareable volume: the dead attach's export is b's to
    end, though the row names a alone."""
    node_a, volume = _kept_shareable(client, services, initiator())
    iqn = initiator()
    node_b = enroll(client, iqn)
    name_volume(client, node_b, volume.uuid)
    killer.arm("export", node_b, iqn)
    assert _killed(client, services, killer, node_b, {"target": "active"})["provision_state"] == (
        "deploy failed"
    )
    _nothing_live(own_tgtd, conf)
    kept = fleet.volumes(services)[volume.uuid]
    assert kept.state == "kept" and kept.node_uuid == node_a
    provision(client, node_b, "deleted", "available")
    ok(client.delete(f"/v1/volume/managed/{volume.uuid}"), 204)


@pytest.mark.parametrize("point", ["export", "target row"])
def test_a_config_drive_attach_killed_before_its_record_leaves_no_export(
    client: TestClient, services: ApiServices, killer: kills.Killer, own_tgtd: TgtServer,
    conf: cfg.ConfigOpts, point: str,
) -> None:  # fmt: skip
    """The external node's drive: its target, account, file and target row all go, and
    the node deploys with a drive again."""
    iqn = initiator()
    node = enroll_external(client, iqn, "fake")
    killer.arm(point, node, iqn)
    body = {"target": "active", "configdrive": drives.packed(drives.iso())}
    assert _killed(client, services, killer, node, body)["provision_state"] == "deploy failed"
    _nothing_live(own_tgtd, conf)
    assert not list(Path(conf.state_path).rglob("config-drive-*.iso"))
    targets = ok(client.get(f"/v1/nodes/{node}/volume/targets"))["targets"]
    assert [t["volume_id"] for t in targets] == ["ext-0"]
    ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"}), 202)
    wait_for_state(client, node, "available")
    fleet.add_boot_target(client, node, BOOT_PROPS)
    ok(client.put(f"/v1/nodes/{node}/states/provision", json=body), 202)
    wait_for_state(client, node, "active")
    provision(client, node, "deleted", "available")
    assert _live(own_tgtd, conf) == set()


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("point", ["detach", "unexported"])
def test_an_undeploy_killed_midway_is_finished_by_the_takeover(
    client: TestClient, services: ApiServices, killer: kills.Killer, own_tgtd: TgtServer,
    conf: cfg.ConfigOpts, point: str, keep: bool,
) -> None:  # fmt: skip
    """Killed before its detach, or after tgtadm ended the export but before the row says
    so: the node is `error`, and the takeover's clean-up detaches as the undeploy would
    have (deleting the volume only if the node does not keep it)."""
    iqn = initiator()
    node = enroll(client, iqn, keep_boot_volume=keep)
    provision(client, node, "active", "active")
    (volume,) = fleet.volumes(services).values()
    killer.arm(point, node, iqn)
    assert _killed(client, services, killer, node, {"target": "deleted"})["provision_state"] == (
        "error"
    )
    _nothing_live(own_tgtd, conf)
    left = fleet.volumes(services)
    if keep:
        assert left[volume.uuid].state == "kept" and Path(volume.path).exists()
    else:
        assert left == {} and not Path(volume.path).exists()
    provision(client, node, "deleted", "available")
    if keep:
        ok(client.delete(f"/v1/volume/managed/{volume.uuid}"), 204)
