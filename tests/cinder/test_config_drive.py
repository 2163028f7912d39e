"""The config drive of a node on `cinder` storage, with the real Cinder and a real tgtd:
a read-only target of Ironbound's own hooked after Cinder's volume, which no Cinder
call ever sees (validate, attach, the storage check and detach leave it to
`config_drive_target`). Rebuild replaces it, the export watch gives a restarted tgtd
it back, undeploy ends it beside the Cinder attachment."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound.api.services import ApiServices
from ironbound.lab.cinder import CinderLab
from ironbound.lab.tgt import TgtServer
from tests import configdrive_support as drives
from tests.api.helpers import ok, provision
from tests.cinder_support import attachments, enroll
from tests.conftest import wait_until
from tests.managed.conftest import point_at
from tests.managed.support import deploy_with_drive, drive_target, initiator, lun_of, read_lun

pytestmark = pytest.mark.cinder


@pytest.fixture
def conf(conf: cfg.ConfigOpts, own_tgtd: TgtServer) -> cfg.ConfigOpts:
    """Ironbound's tgtd; no storage check, so only the export watch can restore the drive."""
    point_at(conf, own_tgtd)
    conf.set_override("sync_storage_interval", 0, group="conductor")
    return conf


def _drive(user_data: bytes) -> str:
    """A drive as Nova sends it (an ISO, gzipped, in base64) with `user_data`."""
    return drives.packed(drives.iso({**drives.FILES, "openstack/latest/user_data": user_data}))


def _user_data(image: Path) -> bytes:
    return drives.read(image.read_bytes(), "/openstack/latest/user_data")


def test_a_cinder_node_gets_its_drive_from_a_target_of_ironbounds_own(
    client: TestClient, services: ApiServices, cinder_lab: CinderLab, own_tgtd: TgtServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    volume_id = cinder_lab.create_volume(1, name="with-drive")
    iqn = initiator()
    node = enroll(client, [volume_id], iqn)
    deploy_with_drive(client, node, "active", _drive(b"#cloud-config\n{}"), "active")
    target = drive_target(services, node)
    assert target is not None and target.boot_index == 1
    # Cinder holds one attachment, the volume's: the drive is not Cinder's.
    (held,) = attachments(cinder_lab, volume_id)
    assert held["status"] == "attached"
    lun = lun_of(target)
    assert lun.portal == own_tgtd.host_portals[0]
    assert read_lun(lun, iqn, tmp_path / "first.iso").returncode == 0
    assert _user_data(tmp_path / "first.iso") == b"#cloud-config\n{}"

    # Rebuild validates and attaches again with the old drive's target still listed, and
    # replaces the drive, credentials and all.
    deploy_with_drive(client, node, "rebuild", _drive(b"#cloud-config\nhostname: b\n"), "active")
    rebuilt = drive_target(services, node)
    assert rebuilt is not None and lun_of(rebuilt).password != lun.password
    assert [a["id"] for a in attachments(cinder_lab, volume_id)] == [held["id"]]
    new = lun_of(rebuilt)
    assert read_lun(lun, iqn, tmp_path / "old.iso").returncode != 0
    assert read_lun(new, iqn, tmp_path / "second.iso").returncode == 0
    assert _user_data(tmp_path / "second.iso") == b"#cloud-config\nhostname: b\n"

    # The export watch (every 5 s) gives a restarted tgtd the drive back within 30 s.
    own_tgtd.stop()
    own_tgtd.start()
    wait_until(
        lambda: read_lun(new, iqn, tmp_path / "again.iso").returncode == 0,
        what="the drive's restoration",
        timeout=30,
    )
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert shown["last_error"] is None, shown["last_error"]

    provision(client, node, "deleted", "available")
    assert new.target_iqn not in own_tgtd.show()
    assert drive_target(services, node) is None
    assert attachments(cinder_lab, volume_id) == []
    assert ok(client.get(f"/v1/volume/targets?node={node}"))["targets"] == []
