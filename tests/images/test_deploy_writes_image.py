"""A deploy writes instance_info/image_source onto an external iSCSI boot volume on a real
tgtd, over the conductor's own iSCSI login with the node's CHAP credentials."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import ok, provision
from tests.images.conftest import NODE_IQN, enroll_external, events, make_qcow2, pattern_at, sha256

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    return {"conductor.file_url_allowed_paths": [str(tmp_path / "images")]}


def _volume(tgt: TgtServer, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A 32 MiB LUN for NODE_IQN with CHAP, and the target properties that describe it."""
    backing = tmp_path / f"lun-{secrets.token_hex(3)}.img"
    backing.write_bytes(b"\0" * (32 << 20))
    iqn = f"iqn.2026-12.org.ironbound.test:{backing.stem}"
    user, password = f"u{secrets.token_hex(3)}", f"Pw-{secrets.token_hex(6)}"
    tgt.add_target(iqn, backing)
    tgt.allow_initiator(iqn, NODE_IQN)
    tgt.add_chap(iqn, user, password)
    props = {"target_iqn": iqn, "target_portal": tgt.host_portals[0], "target_lun": 1,
             "auth_method": "CHAP", "auth_username": user, "auth_password": password}  # fmt: skip
    return backing, props


def _image(tmp_path: Path, name: str, pattern: int) -> Path:
    (tmp_path / "images").mkdir(exist_ok=True)
    return make_qcow2(tmp_path / "images" / name, pattern=pattern)


def test_deploy_and_rebuild_write_the_image(
    client: TestClient, services: ApiServices, tgt: TgtServer, tmp_path: Path
) -> None:
    backing, props = _volume(tgt, tmp_path)
    image = _image(tmp_path, "os.qcow2", 0x42)
    info = {"image_source": f"file://{image}", "image_checksum": f"sha256:{sha256(image)}"}
    node = enroll_external(client, props, info)
    provision(client, node, "active", "active")
    assert pattern_at(backing) == b"\x42" * 4
    seen = events(services, node)
    assert "write image: started" in seen and "write image: done" in seen
    written = [e for e in seen if e.startswith("image written onto volume ext-1")]
    assert written and "MiB/s" in written[0]
    assert not any(props["auth_password"] in e for e in seen)

    backing.write_bytes(b"\0" * (32 << 20))  # the rebuild writes it again
    provision(client, node, "rebuild", "active")
    assert pattern_at(backing) == b"\x42" * 4


def test_a_checksum_mismatch_fails_the_deploy_before_writing(
    client: TestClient, tgt: TgtServer, tmp_path: Path
) -> None:
    backing, props = _volume(tgt, tmp_path)
    image = _image(tmp_path, "bad.qcow2", 0x43)
    info = {"image_source": f"file://{image}", "image_checksum": "sha256:" + "0" * 64}
    node = enroll_external(client, props, info)
    provision(client, node, "active", "deploy failed")
    shown = ok(client.get(f"/v1/nodes/{node}"))
    assert shown["last_error"].startswith("write image failed: image file://")
    assert "does not match its checksum: expected sha256:000" in shown["last_error"]
    assert pattern_at(backing) == b"\0" * 4


def test_validate_names_bad_image_keys(client: TestClient, tgt: TgtServer, tmp_path: Path) -> None:
    _, props = _volume(tgt, tmp_path)
    node = enroll_external(client, props, {"image_source": "http://images.example/os.qcow2"})
    table = ok(client.get(f"/v1/nodes/{node}/validate"))
    assert table["deploy"]["result"] is False
    assert "cannot have its image written: image_source" in table["deploy"]["reason"]
    assert "needs a checksum" in table["deploy"]["reason"]
