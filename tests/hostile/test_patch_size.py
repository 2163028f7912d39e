"""One PATCH is bounded: a client cannot send thousands of operations."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api.patch import MAX_OPERATIONS
from tests.api.helpers import add, create_node, error, ok


def _ops(count: int) -> list[dict[str, Any]]:
    return [add(f"/extra/k{i}", i) for i in range(count)]


@pytest.mark.parametrize("count", [MAX_OPERATIONS + 1, 5_000])
def test_too_many_operations_are_refused_naming_the_limit(client: TestClient, count: int) -> None:
    node = create_node(client)["uuid"]
    message = error(client.patch(f"/v1/nodes/{node}", json=_ops(count)), 400)
    assert f"at most {MAX_OPERATIONS} operations; this one has {count}" in message
    assert ok(client.get(f"/v1/nodes/{node}"))["extra"] == {}


def test_the_limit_itself_is_accepted(client: TestClient) -> None:
    node = create_node(client)["uuid"]
    extra = ok(client.patch(f"/v1/nodes/{node}", json=_ops(MAX_OPERATIONS)))["extra"]
    assert len(extra) == MAX_OPERATIONS


def test_ports_are_bounded_too(client: TestClient) -> None:
    node = create_node(client)["uuid"]
    port = ok(
        client.post("/v1/ports", json={"node_uuid": node, "address": "52:54:00:aa:bb:01"}), 201
    )["uuid"]
    error(client.patch(f"/v1/ports/{port}", json=_ops(MAX_OPERATIONS + 1)), 400)
