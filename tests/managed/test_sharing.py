"""The multi-attach guard, a restarted tgtd, and the volumes API, against a real tgtd."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg
from sqlalchemy import select

from ironbound.api.services import ApiServices
from ironbound.db.models import NodeEvent
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import add, error, ok, patch, provision, replace
from tests.conftest import wait_until
from tests.images.conftest import pattern_at
from tests.managed.conftest import point_at
from tests.managed.support import (
    boot_target,
    enroll,
    image,
    image_folder,
    initiator,
    login,
    name_volume,
    set_info,
    volume_of,
)


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    return {"conductor.file_url_allowed_paths": [str(image_folder(tmp_path))]}


def test_a_second_node_is_refused_unless_the_volume_is_shareable(
    client: TestClient, services: ApiServices, tgtd: TgtServer
) -> None:
    first_iqn, second_iqn = initiator(), initiator()
    first = enroll(client, first_iqn)
    provision(client, first, "active", "active")
    before = boot_target(client, first)
    shared = before["volume_id"]
    second = enroll(client, second_iqn)
    name_volume(client, second, shared)
    provision(client, second, "active", "deploy failed")
    last_error = ok(client.get(f"/v1/nodes/{second}"))["last_error"]
    assert f"is attached for node {first}" in last_error and "not shareable" in last_error

    ok(patch(client, f"/v1/volume/managed/{shared}", replace("/shareable", True)))
    provision(client, second, "deleted", "available")
    name_volume(client, second, shared)
    provision(client, second, "active", "active")
    volume = volume_of(services, shared)
    assert volume is not None and set(volume.initiators) == {first, second}
    portal = tgtd.host_portals[0]
    assert login(portal, volume, first_iqn).returncode == 0
    assert login(portal, volume, second_iqn).returncode == 0
    assert boot_target(client, first) == before  # attaching the second left the first alone
    refused = client.patch(f"/v1/volume/managed/{shared}", json=[replace("/shareable", False)])
    assert "attached to several nodes" in error(refused, 409)

    provision(client, second, "deleted", "available")  # the volume is the first's: not deleted
    volume = volume_of(services, shared)
    assert volume is not None and set(volume.initiators) == {first}
    assert login(portal, volume, first_iqn).returncode == 0
    assert login(portal, volume, second_iqn).returncode != 0
    provision(client, first, "deleted", "available")
    assert volume_of(services, shared) is None


def test_no_image_is_written_over_a_volume_another_node_holds(
    client: TestClient, services: ApiServices, tmp_path: Path
) -> None:
    first = enroll(client, initiator(), **image(tmp_path, 0x61))
    provision(client, first, "active", "active")
    shared = boot_target(client, first)["volume_id"]
    ok(patch(client, f"/v1/volume/managed/{shared}", replace("/shareable", True)))
    volume = volume_of(services, shared)
    assert volume is not None and pattern_at(Path(volume.path)) == b"\x61" * 4

    second = enroll(client, initiator(), **image(tmp_path, 0x62))
    name_volume(client, second, shared)
    shown = _deploy_ends(client, second, "active")
    assert shown["provision_state"] == "deploy failed", shown["provision_state"]
    last_error = shown["last_error"]
    assert shared in last_error and first in last_error, last_error
    assert pattern_at(Path(volume.path)) == b"\x61" * 4
    assert ok(client.get(f"/v1/nodes/{first}"))["provision_state"] == "active"
    held = volume_of(services, shared)
    assert held is not None and set(held.initiators) == {first}

    # Without an image the second node boots the shared volume as it is.
    provision(client, second, "deleted", "available")
    name_volume(client, second, shared)
    provision(client, second, "active", "active")
    # Nor may the first node's rebuild write over it while the second holds it.
    set_info(client, first, image(tmp_path, 0x63))
    shown = _deploy_ends(client, first, "rebuild")
    assert shown["provision_state"] == "deploy failed", shown["provision_state"]
    last_error = shown["last_error"]
    assert shared in last_error and second in last_error, last_error
    assert pattern_at(Path(volume.path)) == b"\x61" * 4


def _deploy_ends(client: TestClient, node: str, verb: str) -> dict[str, Any]:
    """Send the verb; the node as it is once the transition ended, however it ended."""
    provision(client, node, verb)
    shown: dict[str, Any] = {}

    def ended() -> bool:
        shown.update(ok(client.get(f"/v1/nodes/{node}")))
        return shown["target_provision_state"] is None

    wait_until(ended, what=f"the end of {verb} on {node}")
    return shown


def test_a_restarted_tgtd_gets_the_exports_back(
    client: TestClient, services: ApiServices, conf: cfg.ConfigOpts, own_tgtd: TgtServer
) -> None:
    point_at(conf, own_tgtd)
    iqn = initiator()
    node = enroll(client, iqn)
    provision(client, node, "active", "active")
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None
    own_tgtd.stop()
    own_tgtd.start()
    assert volume.target_iqn not in own_tgtd.show()
    # The target appears first, then its ACL and CHAP account: wait for the whole export.
    wait_until(
        lambda: login(own_tgtd.host_portals[0], volume, iqn).returncode == 0,
        what="the export's restoration",
    )

    def recorded() -> bool:
        with services.db.read() as session:
            events = select(NodeEvent.event).where(NodeEvent.event_type == "storage")
            return any("export is restored" in e for e in session.scalars(events))

    wait_until(recorded, what="the restoration's event")
    provision(client, node, "deleted", "available")


def test_the_api_lists_shows_and_deletes_with_secrets_masked(
    client: TestClient, services: ApiServices
) -> None:
    nodes = [enroll(client, initiator(), keep_boot_volume=True) for _ in range(3)]
    for node in nodes:
        provision(client, node, "active", "active")
    root = ok(client.get("/v1/volume"))
    assert root["managed"][0]["href"].endswith("/v1/volume/managed")
    page = ok(client.get("/v1/volume/managed?limit=2"))
    assert len(page["volumes"]) == 2 and "limit=2" in page["next"]
    assert set(page["volumes"][0]) == {
        "uuid", "node_uuid", "state", "size_bytes", "shareable", "links"
    }  # fmt: skip
    rest = ok(client.get(page["next"].removeprefix("http://127.0.0.1:6385")))
    assert len(rest["volumes"]) == 1
    mine = ok(client.get(f"/v1/volume/managed?node={nodes[1]}&detail=True"))["volumes"]
    assert [v["node_uuid"] for v in mine] == [nodes[1]]
    shown = ok(client.get(f"/v1/volume/managed/{mine[0]['uuid']}"))
    assert shown["auth_password"] == "******" and shown["state"] == "attached"
    assert shown["reverse_auth_password"] is None and shown["lun"] == 1
    volume = volume_of(services, shown["uuid"])
    assert volume is not None and volume.auth_password is not None
    assert volume.auth_password.reveal() not in str(ok(client.get("/v1/volume/managed?detail=1")))
    fields = ok(client.get(f"/v1/volume/managed/{shown['uuid']}?fields=state,image"))
    assert set(fields) == {"state", "image", "links"}

    assert "is attached" in error(client.delete(f"/v1/volume/managed/{shown['uuid']}"), 409)
    assert error(client.get("/v1/volume/managed/not-a-uuid"), 400)
    assert error(client.get("/v1/volume/managed?colour=red"), 400)
    missing = "5b3a1d67-0000-4000-8000-000000000000"
    assert "could not be found" in error(client.get(f"/v1/volume/managed/{missing}"), 404)
    provision(client, nodes[1], "deleted", "available")
    ok(client.delete(f"/v1/volume/managed/{shown['uuid']}"), 204)
    assert not Path(shown["path"]).exists()
    for node in (nodes[0], nodes[2]):
        ok(patch(client, f"/v1/nodes/{node}", add("/instance_info/keep_boot_volume", "false")))
        provision(client, node, "deleted", "available")
    assert ok(client.get("/v1/volume/managed"))["volumes"] == []
