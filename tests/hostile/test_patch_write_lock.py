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
from ironbound.db import any_table
from ironbound.db.base import Base
from ironbound.db.models import Node, Port, VolumeConnector, VolumeTarget
from tests.api.helpers import add, create_connector, create_node, create_target, error, ok, power

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


def _touch(services: ApiServices, model: type[Base], uuid: str, key: str) -> Hook:
    """Another writer's change to the record's extra."""

    def write() -> None:
        with services.db.write() as session:
            row: Any = any_table.by_uuid(session, model, uuid)
            row.extra = {**row.extra, key: True}

    return write


def _node(client: TestClient) -> str:
    return str(create_node(client)["uuid"])


def _port(client: TestClient) -> str:
    body = {"node_uuid": _node(client), "address": "52:54:00:aa:bb:02"}
    return str(ok(client.post("/v1/ports", json=body), 201)["uuid"])


def _off_node(client: TestClient) -> str:
    node = _node(client)
    power(client, node, "power off")
    return node


def _connector(client: TestClient) -> str:
    return str(create_connector(client, _off_node(client))["uuid"])


def _target(client: TestClient) -> str:
    return str(create_target(client, _off_node(client))["uuid"])


@pytest.mark.parametrize(
    ("collection", "model", "make"),
    [
        ("nodes", Node, _node),
        ("ports", Port, _port),
        ("volume/connectors", VolumeConnector, _connector),
        ("volume/targets", VolumeTarget, _target),
    ],
)
def test_a_record_changed_meanwhile_is_kept_and_the_patch_redone(
    client: TestClient,
    services: ApiServices,
    during_apply: list[Hook],
    collection: str,
    model: type[Base],
    make: Callable[[TestClient], str],
) -> None:
    uuid = make(client)
    during_apply.append(_touch(services, model, uuid, "meanwhile"))
    url = f"/v1/{collection}/{uuid}"
    extra = ok(client.patch(url, json=[add("/extra/mine", 1)]))["extra"]
    assert extra == {"meanwhile": True, "mine": 1}


def test_a_node_that_keeps_changing_is_a_conflict(
    client: TestClient, services: ApiServices, during_apply: list[Hook]
) -> None:
    node = _node(client)
    during_apply.extend(_touch(services, Node, node, f"k{i}") for i in range(10))
    message = error(client.patch(f"/v1/nodes/{node}", json=[add("/extra/mine", 1)]), 409)
    assert "changed while this update was worked out" in message
    assert "mine" not in ok(client.get(f"/v1/nodes/{node}"))["extra"]
