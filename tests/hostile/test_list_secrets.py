"""A kept secret inside a list follows its element through a PATCH, as a conductor sees it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.db import nodes
from ironbound.db.models import VolumeTarget
from tests.api.helpers import (
    create_node,
    create_target,
    error,
    iscsi_properties,
    ok,
    remove,
    replace,
)

CREDS = [{"user": "a", "password": "p0"}, {"user": "b", "password": "p1"}]
SEALED = {"driver_info": "driver_secrets", "instance_info": "instance_secrets"}


def _node_secrets(services: ApiServices, uuid: str, field: str) -> dict[str, Any]:
    with services.db.read() as session:
        return services.box.open(getattr(nodes.get_by_uuid(session, uuid), SEALED[field]))


@pytest.mark.parametrize("field", sorted(SEALED))
def test_removing_the_first_element_keeps_the_second_ones_secret(
    client: TestClient, services: ApiServices, field: str
) -> None:
    node = create_node(client, **{field: {"creds": CREDS}})["uuid"]
    shown = ok(client.patch(f"/v1/nodes/{node}", json=[remove(f"/{field}/creds/0")]))
    assert shown[field] == {"creds": [{"user": "b", "password": "******"}]}
    assert _node_secrets(services, node, field) == {"/creds/0/password": "p1"}


def test_an_element_moved_and_changed_must_give_its_secret_again(
    client: TestClient, services: ApiServices
) -> None:
    node = create_node(client, driver_info={"creds": CREDS})["uuid"]
    ops = [remove("/driver_info/creds/0"), replace("/driver_info/creds/0/user", "c")]
    message = error(client.patch(f"/v1/nodes/{node}", json=ops), 400)
    assert "cannot be told" in message
    assert _node_secrets(services, node, "driver_info") == {
        "/creds/0/password": "p0",
        "/creds/1/password": "p1",
    }


def test_a_target_property_list_keeps_its_secrets_with_their_elements(
    client: TestClient, services: ApiServices, off_node: str
) -> None:
    target = create_target(client, off_node, properties=iscsi_properties(paths=CREDS))["uuid"]
    ok(client.patch(f"/v1/volume/targets/{target}", json=[remove("/properties/paths/0")]))
    with services.db.read() as session:
        row = session.get(VolumeTarget, 1)
        assert row is not None and row.uuid == target
        assert services.box.open(row.secret_properties) == {"/paths/0/password": "p1"}
