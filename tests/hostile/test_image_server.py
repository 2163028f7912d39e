"""A hostile image server against a deploy: a body dripped a byte at a time holds no node
past [image]download_total_timeout, and an abort stops the fetch at once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.images import fetch
from tests.api.helpers import iscsi_properties, ok
from tests.conftest import wait_for_state, wait_until
from tests.images.conftest import enroll_external, events
from tests.images.servers import dripping, misbehaving

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"image.download_total_timeout": 1.5}


def _deploying(client: TestClient, url: str) -> str:
    node = enroll_external(
        client, iscsi_properties(), {"image_source": url, "image_checksum": "1" * 64}
    )
    ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"}), 202)
    return node


def test_a_dripped_image_fails_the_deploy_at_the_deadline(client: TestClient) -> None:
    with misbehaving(dripping(every=0.1)) as base:
        node = _deploying(client, f"{base}/os.raw")
        shown = wait_for_state(client, node, "deploy failed", timeout=10)
    assert shown["last_error"].startswith(f"write image failed: could not fetch image {base}")
    assert "[image]download_total_timeout (1.5 s)" in shown["last_error"]


@pytest.mark.parametrize("overrides", [{"image.download_total_timeout": 600.0}])
def test_an_abort_stops_the_fetch(
    client: TestClient, services: ApiServices, overrides: dict[str, Any]
) -> None:
    with misbehaving(dripping(every=0.1)) as base:
        node = _deploying(client, f"{base}/os.raw")
        wait_until(lambda: "write image: started" in events(services, node), what="the fetch")
        ok(client.put(f"/v1/nodes/{node}/states/provision", json={"target": "abort"}), 202)
        shown = wait_for_state(client, node, "deploy failed", timeout=10)
    assert "the deploy was aborted" in shown["last_error"]
    assert not list(fetch.cache_dir(services.conf).glob(".part-*"))
    wait_until(
        lambda: client.get(f"/v1/nodes/{node}").json()["power_state"] == "power off",
        what="the aborted node to power off",
    )
