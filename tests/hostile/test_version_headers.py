"""Both version headers: Ironic prefers `OpenStack-API-Version: baremetal 1.x`."""

from __future__ import annotations

from fastapi.testclient import TestClient

VERSION_HEADER = "X-OpenStack-Ironic-API-Version"


def test_openstack_header_wins_over_ironic_header(client: TestClient) -> None:
    # As Ironic: the service-neutral header is preferred when both are given.
    response = client.get(
        "/v1", headers={VERSION_HEADER: "1.20", "OpenStack-API-Version": "baremetal 1.31"}
    )
    assert response.headers[VERSION_HEADER] == "1.31"


def test_ironic_header_is_used_when_the_openstack_header_names_another_service(
    client: TestClient,
) -> None:
    response = client.get(
        "/v1", headers={VERSION_HEADER: "1.20", "OpenStack-API-Version": "compute 2.90"}
    )
    assert response.headers[VERSION_HEADER] == "1.20"
