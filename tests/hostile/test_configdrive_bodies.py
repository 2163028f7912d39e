"""Config drives at the edge of what a request may carry: a body at the bound, a gzip bomb."""

from __future__ import annotations

import base64
import gzip
import json
import time

from fastapi.testclient import TestClient

from ironbound.api.bodies import MAX_BODY
from ironbound.api.services import ApiServices
from tests.api.helpers import create_node, error, force, ok
from tests.configdrive_support import iso, packed

HEADERS = {"Content-Type": "application/json", "X-OpenStack-Ironic-API-Version": "1.51"}


def _available(client: TestClient, services: ApiServices) -> str:
    uuid = str(create_node(client)["uuid"])
    force(services, uuid, provision_state="available")
    return uuid


def _body(configdrive: str, size: int) -> bytes:
    """A provision body of exactly `size` bytes: the drive padded with base64's white space."""
    bare = json.dumps({"target": "active", "configdrive": configdrive}).encode()
    padded = json.dumps({"target": "active", "configdrive": configdrive + " " * (size - len(bare))})
    return padded.encode()


def test_a_body_at_the_bound_is_taken_one_byte_more_is_not(
    client: TestClient, services: ApiServices
) -> None:
    node = _available(client, services)
    url = f"/v1/nodes/{node}/states/provision"
    drive = packed(iso())
    over = _body(drive, MAX_BODY + 1)
    assert len(over) == MAX_BODY + 1
    assert client.put(url, content=over, headers=HEADERS).status_code == 413
    at = _body(drive, MAX_BODY)
    assert client.put(url, content=at, headers=HEADERS).status_code == 202


def test_a_gzip_bomb_as_large_as_a_body_is_refused_quickly(
    client: TestClient, services: ApiServices
) -> None:
    node = _available(client, services)
    member = gzip.compress(bytes(64 * 1024 * 1024))  # about 64 KiB
    bomb = base64.b64encode(gzip.compress(iso()) + member * 11).decode()  # 704 MiB inflated
    assert len(bomb) < MAX_BODY - 100
    started = time.monotonic()
    response = client.put(
        f"/v1/nodes/{node}/states/provision",
        json={"target": "active", "configdrive": bomb},
        headers=HEADERS,
    )
    assert "inflates to more than 64 MiB" in error(response, 400)
    assert time.monotonic() - started < 5
    assert ok(client.get(f"/v1/nodes/{node}"))["provision_state"] == "available"
