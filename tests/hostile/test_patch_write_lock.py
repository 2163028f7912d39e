"""A PATCH works out its result before it takes the write lock, then checks nothing moved.

The hook below writes to the record while the PATCH applies its operations,
as another writer would. Were the patch applied inside the write
transaction, that write would wait for the PATCH's lock (SQLite: "database
is locked" after the busy timeout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api import patch
from ironbound.api.services import ApiServices
from ironbound.db import nodes
from ironbound.db.models import Port, VolumeTarget
from tests.api.helpers import add, create_node, create_target, error, ok, power

Hook = Callable[[], None]


@pytest.fixture
def during_apply(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Hook]]:
    """Hooks run (each once, in order) while a PATCH applies its operations."""
    hooks: list[Hook] = []
    real = patch.apply

    def apply(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if hooks:
            hooks.pop(0)()
        return real(*args, **kwargs)

    monkeypatch.setattr(patch, "apply", apply)
    yield hooks


def _touch_node(services: ApiServices, uuid: str, key: str) -> Hook:
    def write() -> None:
        with services.db.write() as session:
            node = nodes.get_by_uuid(session, uuid)
            node.extra = {**node.extra, key: True}

    return write


def test_a_change_made_meanwhile_is_kept_and_the_patch_redone(
    client: TestClient, services: ApiServices, during_apply: list[Hook]
) -> None:
    node = create_node(client)["uuid"]
    during_apply.append(_touch_node(services, node, "meanwhile"))
    extra = ok(client.patch(f"/v1/nodes/{node}", json=[add("/extra/mine", 1)]))["extra"]
    assert extra == {"meanwhile": True, "mine": 1}


def test_a_node_that_keeps_changing_is_a_conflict(
    client: TestClient, services: ApiServices, during_apply: list[Hook]
) -> None:
    node = create_node(client)["uuid"]
    during_apply.extend(_touch_node(services, node, f"k{i}") for i in range(10))
    message = error(client.patch(f"/v1/nodes/{node}", json=[add("/extra/mine", 1)]), 409)
    assert "changed while this update was worked out" in message
    assert "mine" not in ok(client.get(f"/v1/nodes/{node}"))["extra"]


def test_a_port_changed_meanwhile_is_patched_again(
    client: TestClient, services: ApiServices, during_apply: list[Hook]
) -> None:
    node = create_node(client)["uuid"]
    port = ok(
        client.post("/v1/ports", json={"node_uuid": node, "address": "52:54:00:aa:bb:02"}), 201
    )["uuid"]

    def write() -> None:
        with services.db.write() as session:
            row = session.get(Port, 1)
            assert row is not None and row.uuid == port
            row.extra = {"meanwhile": True}

    during_apply.append(write)
    extra = ok(client.patch(f"/v1/ports/{port}", json=[add("/extra/mine", 1)]))["extra"]
    assert extra == {"meanwhile": True, "mine": 1}


def test_a_volume_target_changed_meanwhile_is_patched_again(
    client: TestClient, services: ApiServices, during_apply: list[Hook]
) -> None:
    node = create_node(client)["uuid"]
    power(client, node, "power off")
    target = create_target(client, node)["uuid"]

    def write() -> None:
        with services.db.write() as session:
            row = session.get(VolumeTarget, 1)
            assert row is not None and row.uuid == target
            row.extra = {"meanwhile": True}

    during_apply.append(write)
    url = f"/v1/volume/targets/{target}"
    extra = ok(client.patch(url, json=[add("/extra/mine", 1)]))["extra"]
    assert extra == {"meanwhile": True, "mine": 1}
