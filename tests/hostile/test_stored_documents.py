"""Documents grown by changes stay readable: depth and size are checked after a change."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import fault


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value}
    return value


def test_patches_cannot_nest_a_record_past_what_can_be_read(client: TestClient) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    first = [{"op": "add", "path": "/extra/a", "value": _nested(90)}]
    assert client.patch(f"/v1/nodes/{uuid}", json=first).status_code == 200
    # Each body is shallow enough, but its path reaches 80 levels into the last one.
    deeper = [{"op": "add", "path": "/extra/a" + "/k" * 80 + "/more", "value": _nested(60)}]
    refused = client.patch(f"/v1/nodes/{uuid}", json=deeper)
    assert refused.status_code == 400
    assert "nested more than 100 levels" in fault(refused)
    # Nothing was stored, and the node and every list stay readable for everyone.
    assert client.get(f"/v1/nodes/{uuid}").status_code == 200
    assert client.get("/v1/nodes/detail").status_code == 200
    assert client.get(f"/v1/nodes/{uuid}").json()["extra"] == {"a": _nested(90)}


def test_patches_cannot_grow_a_record_without_bound(client: TestClient) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    chunk = "x" * 30_000
    for key in ("a", "b"):
        ok = client.patch(f"/v1/nodes/{uuid}", json=[{"op": "add", "path": f"/extra/{key}",
                                                      "value": chunk}])  # fmt: skip
        assert ok.status_code == 200
    refused = client.patch(
        f"/v1/nodes/{uuid}", json=[{"op": "add", "path": "/extra/c", "value": chunk}]
    )
    assert refused.status_code == 400
    assert "at most 65536 bytes" in fault(refused)
    assert sorted(client.get(f"/v1/nodes/{uuid}").json()["extra"]) == ["a", "b"]


def test_a_port_document_is_bounded_too(client: TestClient) -> None:
    node = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    port = client.post(
        "/v1/ports", json={"node_uuid": node, "address": "52:54:00:aa:bb:cc"}
    ).json()["uuid"]
    client.patch(f"/v1/ports/{port}", json=[{"op": "add", "path": "/extra/a",
                                             "value": _nested(95)}])  # fmt: skip
    deeper = [{"op": "add", "path": "/extra/a" + "/k" * 90 + "/x", "value": _nested(20)}]
    assert client.patch(f"/v1/ports/{port}", json=deeper).status_code == 400
    assert client.get("/v1/ports/detail").status_code == 200
