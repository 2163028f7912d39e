"""A cinder node never writes its image over a volume Cinder shows attached for another
holder: two nodes may boot one multiattach volume, neither overwrites the other's data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.lab.cinder import CinderLab
from tests.api.helpers import ok, provision
from tests.cinder.test_attach_errors import initiator
from tests.cinder_support import attachments, enroll
from tests.managed.support import image, image_folder, set_info

pytestmark = pytest.mark.cinder

DATA = b"the first node's own data"


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    return {"conductor.file_url_allowed_paths": [str(image_folder(tmp_path))]}


def test_a_second_node_does_not_write_over_a_shared_volume(
    client: TestClient, cinder_lab: CinderLab, tmp_path: Path
) -> None:
    volume_id = cinder_lab.create_volume(1, name="shared-data", multiattach=True)
    first = enroll(client, [volume_id], initiator())
    provision(client, first, "active", "active")
    with cinder_lab.backing_file(volume_id).open("r+b") as disk:
        disk.write(DATA)  # what the first node's system wrote
    second = enroll(client, [volume_id], initiator())
    set_info(client, second, image(tmp_path, 0x5A))
    provision(client, second, "active", "deploy failed")
    error = ok(client.get(f"/v1/nodes/{second}"))["last_error"]
    assert f"volume {volume_id} is attached in Cinder for {first}" in error
    assert "does not write its image over it" in error
    with cinder_lab.backing_file(volume_id).open("rb") as disk:
        assert disk.read(len(DATA)) == DATA
    # The failed deploy let go of its own attachment; the first node keeps its own.
    assert [a["instance"] for a in attachments(cinder_lab, volume_id)] == [first]
    provision(client, first, "deleted", "available")
