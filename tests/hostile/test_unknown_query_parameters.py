"""Every GET refuses query parameters it does not know, naming those it allows."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import fault

NODE_PATHS = [
    "/v1/nodes/{node}/states",
    "/v1/nodes/{node}/validate",
    "/v1/nodes/{node}/management/boot_device",
    "/v1/nodes/{node}/management/boot_device/supported",
    "/v1/nodes/{node}/volume",
]
PLAIN_PATHS = [
    "/",
    "/v1",
    "/v1/",
    "/v1/volume",
    "/v1/volume/",
    "/v1/drivers/fake-hardware",
    "/v1/drivers/fake-hardware/properties",
]


@pytest.fixture
def node(client: TestClient) -> str:
    uuid: str = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    return uuid


@pytest.mark.parametrize("path", NODE_PATHS + PLAIN_PATHS)
def test_a_get_without_parameters_refuses_any(client: TestClient, node: str, path: str) -> None:
    url = path.format(node=node)
    assert client.get(url).status_code == 200
    response = client.get(f"{url}?bogus=1")
    assert response.status_code == 400
    assert fault(response) == "Unknown query parameter(s) bogus. Allowed: none."


def test_the_volume_lists_keep_their_own_parameters(client: TestClient) -> None:
    assert client.get("/v1/volume/targets?detail=true").status_code == 200
    response = client.get("/v1/volume/targets?bogus=1")
    assert response.status_code == 400
    assert "bogus" in fault(response)
