"""A managed volume over a node's life, against a real tgtd: export, keep, reuse, delete."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound.api.services import ApiServices
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import ok, patch, provision, replace
from tests.conftest import wait_until
from tests.managed.support import boot_target, enroll, initiator, login, volume_of


def test_deploy_exports_only_to_the_node_and_undeploy_deletes(
    client: TestClient, services: ApiServices, tgtd: TgtServer
) -> None:
    iqn = initiator()
    node = enroll(client, iqn)
    provision(client, node, "active", "active")
    target = boot_target(client, node)
    props = target["properties"]
    volume = volume_of(services, target["volume_id"])
    assert volume is not None and volume.state == "attached"
    assert props["target_iqn"] == volume.target_iqn and props["target_lun"] == 1
    assert props["auth_method"] == "CHAP" and props["auth_password"] == "******"
    assert props["target_portal"] == tgtd.host_portals[0]
    assert Path(volume.path).stat().st_size == 1024**3
    assert Path(volume.path).stat().st_mode & 0o777 == 0o600
    portal = tgtd.host_portals[0]
    assert login(portal, volume, iqn).returncode == 0
    assert login(portal, volume, initiator()).returncode != 0
    assert login(portal, volume, iqn, password="WrongPassword123").returncode != 0
    provision(client, node, "deleted", "available")
    assert volume_of(services, volume.uuid) is None
    assert not Path(volume.path).exists()
    assert volume.target_iqn not in tgtd.show()


def test_a_kept_volume_comes_back_with_its_data_and_fresh_chap(
    client: TestClient, services: ApiServices, tgtd: TgtServer
) -> None:
    iqn = initiator()
    node = enroll(client, iqn, keep_boot_volume="yes", root_gb=2)
    provision(client, node, "active", "active")
    first = volume_of(services, boot_target(client, node)["volume_id"])
    assert first is not None and first.size_bytes == 2 * 1024**3
    with Path(first.path).open("r+b") as disk:
        disk.seek(1024**2)
        disk.write(b"kept across deploys")
    provision(client, node, "deleted", "available")
    kept = volume_of(services, first.uuid)
    assert kept is not None and kept.state == "kept" and kept.node_uuid == node
    assert kept.initiators == {} and kept.auth_password is None
    assert first.target_iqn not in tgtd.show()
    assert client.get(f"/v1/nodes/{node}/volume/targets").json()["targets"] == []
    provision(client, node, "active", "active")
    again = volume_of(services, boot_target(client, node)["volume_id"])
    assert again is not None and again.uuid == first.uuid and again.path == first.path
    assert again.auth_password != first.auth_password
    assert login(tgtd.host_portals[0], again, iqn).returncode == 0
    with Path(again.path).open("rb") as disk:
        disk.seek(1024**2)
        assert disk.read(19) == b"kept across deploys"
    # The node may not go while it owns data; deleting the volume lets it.
    ok(client.put(f"/v1/nodes/{node}/maintenance", json={}), 202)
    refused = client.delete(f"/v1/nodes/{node}")
    assert refused.status_code == 409 and first.uuid in refused.text
    ok(client.delete(f"/v1/nodes/{node}/maintenance"), 202)
    provision(client, node, "deleted", "available")
    ok(client.delete(f"/v1/volume/managed/{first.uuid}"), 204)
    assert not Path(first.path).exists()
    ok(client.delete(f"/v1/nodes/{node}"), 204)


def test_a_failed_attach_leaves_nothing(
    client: TestClient, services: ApiServices, conf: cfg.ConfigOpts
) -> None:
    node = enroll(client, initiator())
    conf.set_override("tgt_control_port", 1, group="managed")  # no tgtd there
    provision(client, node, "active", "deploy failed")
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert "tgtadm" in shown["last_error"] and "control port 1" in shown["last_error"]
    assert ok(client.get("/v1/volume/managed"))["volumes"] == []
    assert list(volumes_dir(conf).iterdir()) == []
    assert client.get(f"/v1/nodes/{node}/volume/targets").json()["targets"] == []
    assert "volume_attachments" not in shown["driver_internal_info"]


def test_a_failed_deploy_deletes_the_volume_it_made_and_keeps_a_kept_one(
    client: TestClient, services: ApiServices, tgtd: TgtServer, conf: cfg.ConfigOpts
) -> None:
    node = enroll(client, initiator(), boot="ipxe")
    wait_callback(client, node)
    made = boot_target(client, node)["volume_id"]
    provision(client, node, "abort", "deploy failed")
    wait_until(lambda: volume_of(services, made) is None, what="the volume's deletion")
    assert list(volumes_dir(conf).iterdir()) == []
    assert made not in tgtd.show()
    assert client.get(f"/v1/nodes/{node}/volume/targets").json()["targets"] == []


def test_a_kept_volume_survives_a_failed_deploy(
    client: TestClient, services: ApiServices, tgtd: TgtServer
) -> None:
    node = enroll(client, initiator(), keep_boot_volume=True)
    provision(client, node, "active", "active")
    kept = boot_target(client, node)["volume_id"]
    provision(client, node, "deleted", "available")
    ok(patch(client, f"/v1/nodes/{node}", replace("/boot_interface", "ipxe")))
    wait_callback(client, node)
    assert boot_target(client, node)["volume_id"] == kept
    provision(client, node, "abort", "deploy failed")
    wait_until(lambda: _state(services, kept) == "kept", what="the abort's detach")
    volume = volume_of(services, kept)
    assert volume is not None and volume.node_uuid == node and Path(volume.path).exists()
    assert kept not in tgtd.show()


def wait_callback(client: TestClient, node: str) -> None:
    """Deploy with ipxe: the node waits for a boot report that never comes."""
    provision(client, node, "active")
    wait_until(
        lambda: client.get(f"/v1/nodes/{node}").json()["provision_state"] == "wait call-back",
        what="wait call-back",
    )


def _state(services: ApiServices, volume_uuid: str) -> str | None:
    volume = volume_of(services, volume_uuid)
    return None if volume is None else volume.state


def volumes_dir(conf: cfg.ConfigOpts) -> Path:
    return Path(conf.state_path) / "managed-volumes"
