"""The image writer on managed volumes, against a real tgtd: written into the backing file,
not written again onto a kept volume, and a bad image leaves no volume behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound.api.services import ApiServices
from tests.api.helpers import ok, provision
from tests.images.conftest import pattern_at, sha256
from tests.managed import support
from tests.managed.support import boot_target, enroll, image, initiator, set_info, volume_of


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    return {"conductor.file_url_allowed_paths": [str(support.image_folder(tmp_path))]}


def test_written_once_kept_and_rewritten_on_rebuild(
    client: TestClient, services: ApiServices, tmp_path: Path
) -> None:
    node = enroll(client, initiator(), keep_boot_volume="true", **image(tmp_path, 0x61))
    provision(client, node, "active", "active")
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None and volume.image is not None
    backing = Path(volume.path)
    assert pattern_at(backing) == b"\x61" * 4
    assert backing.stat().st_size == 1 << 30  # the volume keeps its size

    # The node wrote over the image's bytes; a redeploy onto the kept volume keeps them,
    # whether it names the same image again (instance_info is cleared at undeploy, as in
    # Ironic) or none.
    with backing.open("r+b") as f:
        f.seek(1 << 20)
        f.write(b"node")
    provision(client, node, "deleted", "available")
    assert ok(client.get(f"/v1/nodes/{node}"))["instance_info"] == {}
    set_info(client, node, image(tmp_path, 0x61))
    provision(client, node, "active", "active")
    assert pattern_at(backing) == b"node"
    provision(client, node, "deleted", "available")
    provision(client, node, "active", "active")
    assert pattern_at(backing) == b"node"
    set_info(client, node, image(tmp_path, 0x61))
    # A rebuild writes the image again; so does a new image.
    provision(client, node, "rebuild", "active")
    assert pattern_at(backing) == b"\x61" * 4
    set_info(client, node, image(tmp_path, 0x62))
    provision(client, node, "rebuild", "active")
    assert pattern_at(backing) == b"\x62" * 4
    shown = volume_of(services, volume.uuid)
    assert (
        shown is not None
        and shown.image == f"sha256:{sha256(support.image_folder(tmp_path) / 'os-62.qcow2')}"
    )
    set_info(client, node, {"keep_boot_volume": "false"})
    provision(client, node, "deleted", "available")
    assert not backing.exists()


def test_a_checksum_mismatch_leaves_no_volume(
    client: TestClient, conf: cfg.ConfigOpts, tmp_path: Path
) -> None:
    info = image(tmp_path, 0x63) | {"image_checksum": "sha256:" + "0" * 64}
    node = enroll(client, initiator(), **info)
    provision(client, node, "active", "deploy failed")
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert shown["last_error"].startswith("write image failed: image file://")
    assert ok(client.get("/v1/volume/managed"))["volumes"] == []
    assert ok(client.get(f"/v1/nodes/{node}/volume/targets"))["targets"] == []
    assert list((Path(conf.state_path) / "managed-volumes").glob("*")) == []


def test_a_rebuild_writes_the_whole_image_over_what_the_node_wrote(
    client: TestClient, services: ApiServices, tmp_path: Path
) -> None:
    """The volume was created blank by the first deploy, but the node ran on it since: the
    rebuild's write may not skip the image's zeroes as if the volume still held only zeroes."""
    node = enroll(client, initiator())
    provision(client, node, "active", "active")
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None and volume.image is None
    backing = Path(volume.path)
    with backing.open("r+b") as f:
        f.write(b"node")  # where the image holds zeroes
    set_info(client, node, image(tmp_path, 0x64))
    provision(client, node, "rebuild", "active")
    assert pattern_at(backing) == b"\x64" * 4
    with backing.open("rb") as f:
        assert f.read(4) == b"\0" * 4
