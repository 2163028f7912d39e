"""Microversion negotiation, version discovery, headers and the error envelope."""

from __future__ import annotations

import re

import anyio
import httpx2
import pytest
from fastapi.testclient import TestClient

from ironbound.api import microversions as mv
from ironbound.api.app import create_app
from ironbound.api.services import ApiServices
from tests.api.helpers import (
    MAX_HEADER,
    MIN_HEADER,
    VERSION_HEADER,
    create_node,
    envelope,
    error,
    ok,
    v,
)

REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

JSON_BODY = {"Content-Type": "application/json"}


def get_plain(client: TestClient, path: str, **headers: str) -> httpx2.Response:
    """GET without the client's default version header."""
    request = client.build_request("GET", path, headers=headers)
    del request.headers[VERSION_HEADER]
    return client.send(request)


def assert_range_headers(response: httpx2.Response) -> None:
    headers = response.headers
    assert headers[MIN_HEADER] == "1.1"
    assert headers[MAX_HEADER] == mv.MAX_VERSION


def assert_request_ids(response: httpx2.Response) -> None:
    headers = response.headers
    assert REQUEST_ID.match(headers["openstack-request-id"])
    assert headers["x-openstack-request-id"] == headers["openstack-request-id"]


# --- negotiation --------------------------------------------------------------


def test_no_header_negotiates_the_minimum(client: TestClient) -> None:
    response = get_plain(client, "/v1")
    assert response.status_code == 200
    assert response.headers[VERSION_HEADER] == "1.1"
    assert_range_headers(response)


def test_no_header_hides_newer_fields(client: TestClient) -> None:
    node = create_node(client, name="old-client")
    shown = get_plain(client, f"/v1/nodes/{node['uuid']}").json()
    assert "name" not in shown
    assert "storage_interface" not in shown
    assert "driver_internal_info" not in shown
    assert shown["uuid"] == node["uuid"]


def test_latest_is_the_maximum(client: TestClient) -> None:
    response = client.get("/v1", headers=v("latest"))
    assert response.headers[VERSION_HEADER] == mv.MAX_VERSION
    assert "volume" in response.json()


def test_latest_is_case_insensitive(client: TestClient) -> None:
    assert client.get("/v1", headers=v("LATEST")).headers[VERSION_HEADER] == mv.MAX_VERSION


@pytest.mark.parametrize("minor", [1, 5, 31, 32, 33, 51])
def test_explicit_version_is_echoed(client: TestClient, minor: int) -> None:
    response = client.get("/v1/nodes", headers=v(minor))
    assert response.status_code == 200
    assert response.headers[VERSION_HEADER] == f"1.{minor}"
    assert_range_headers(response)


def test_openstack_api_version_header(client: TestClient) -> None:
    response = get_plain(client, "/v1", **{"OpenStack-API-Version": "baremetal 1.32"})
    assert response.headers[VERSION_HEADER] == "1.32"


def test_openstack_api_version_header_latest(client: TestClient) -> None:
    response = get_plain(client, "/v1", **{"OpenStack-API-Version": "baremetal latest"})
    assert response.headers[VERSION_HEADER] == mv.MAX_VERSION


def test_openstack_api_version_for_another_service_is_ignored(client: TestClient) -> None:
    response = get_plain(client, "/v1", **{"OpenStack-API-Version": "compute 2.90"})
    assert response.status_code == 200
    assert response.headers[VERSION_HEADER] == "1.1"


@pytest.mark.parametrize("value", ["1.999", "1.116", "1.0", "2.0", "0.9"])
def test_out_of_range_is_406_with_both_range_headers(client: TestClient, value: str) -> None:
    response = client.get("/v1/nodes", headers={VERSION_HEADER: value})
    message = error(response, 406)
    assert message == (
        f"Version {value} was requested but the minor version is not supported by this "
        f"service. The supported version range is: [1.1, {mv.MAX_VERSION}]."
    )
    assert_range_headers(response)
    assert_request_ids(response)
    # Either absent or a version we serve; never the rejected one.
    assert response.headers.get(VERSION_HEADER) in (None, "1.1", mv.MAX_VERSION)


@pytest.mark.parametrize(
    "value", ["garbage", "1", "1.", ".5", "1.5.1", "v1.5", "1.x", "1.-1", "latest-ish"]
)
def test_malformed_version_is_406(client: TestClient, value: str) -> None:
    response = client.get("/v1", headers={VERSION_HEADER: value})
    assert value in error(response, 406)
    assert_range_headers(response)


def test_openstack_header_out_of_range_is_406(client: TestClient) -> None:
    response = get_plain(
        client, "/v1", **{"OpenStack-API-Version": f"baremetal 1.{mv.MAX_MINOR + 1}"}
    )
    error(response, 406)
    assert_range_headers(response)


def test_enormous_minor_version_is_406_not_500(client: TestClient) -> None:
    response = client.get("/v1", headers={VERSION_HEADER: "1." + "9" * 5000})
    error(response, 406)
    assert_range_headers(response)


# --- headers on every response ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/v1", 200),
        ("GET", "/v1/nodes", 200),
        ("GET", "/v1/nodes/nope", 404),
        ("GET", "/v1/no-such-thing", 404),
        ("DELETE", "/v1/nodes", 405),
        ("POST", "/v1/nodes", 400),
        ("GET", "/v1/volume/targets/not-a-uuid", 400),
    ],
)
def test_headers_on_every_response(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path, headers=v(32))
    assert response.status_code == status
    assert_range_headers(response)
    assert_request_ids(response)
    assert response.headers[VERSION_HEADER] == "1.32"


def test_each_request_gets_its_own_id(client: TestClient) -> None:
    first = client.get("/v1").headers["openstack-request-id"]
    second = client.get("/v1").headers["openstack-request-id"]
    assert first != second


# --- the error envelope ---------------------------------------------------------


def test_unknown_route_is_404_in_the_envelope(client: TestClient) -> None:
    message = error(client.get("/v1/chassis/x/y/z"), 404)
    assert message == "The resource could not be found."


def test_wrong_method_is_405_in_the_envelope(client: TestClient) -> None:
    response = client.delete("/v1/nodes")
    error(response, 405)
    assert response.headers["allow"] == "GET"


def test_put_on_the_version_document_is_405(client: TestClient) -> None:
    error(client.put("/v1", json={}), 405)


@pytest.mark.parametrize("body", [b"{not json", b"[1,", b"\xff\xfe", b'{"a": NaN}', b"1e999"])
def test_bad_json_is_400_not_500(client: TestClient, body: bytes) -> None:
    response = client.post("/v1/nodes", content=body, headers=JSON_BODY)
    assert "not valid JSON" in error(response, 400)


def test_empty_body_is_400(client: TestClient) -> None:
    assert "empty" in error(client.post("/v1/nodes", content=b""), 400)


def test_body_that_is_not_an_object_is_400(client: TestClient) -> None:
    assert "JSON object" in error(client.post("/v1/nodes", json=["driver"]), 400)


def test_oversized_body_is_413(client: TestClient) -> None:
    body = b'{"driver": "fake-hardware", "extra": {"x": "' + b"a" * (1024 * 1024) + b'"}}'
    assert "1 MiB" in error(client.post("/v1/nodes", content=body, headers=JSON_BODY), 413)


def test_deeply_nested_body_is_400_not_500(client: TestClient) -> None:
    depth = 600
    body = '{"driver": "fake-hardware", "extra": {"a": ' + "[" * depth + "]" * depth + "}}"
    response = client.post("/v1/nodes", content=body.encode(), headers=JSON_BODY)
    assert "nested" in error(response, 400)


def test_moderately_nested_body_is_fine(client: TestClient) -> None:
    depth = 30
    body = '{"driver": "fake-hardware", "extra": {"a": ' + "[" * depth + "]" * depth + "}}"
    created = ok(client.post("/v1/nodes", content=body.encode(), headers=JSON_BODY), 201)
    inner = created["extra"]["a"]
    for _ in range(depth - 1):
        inner = inner[0]
    assert inner == []


def test_faultcode_is_client_for_4xx(client: TestClient) -> None:
    for response in (
        client.get("/v1/nodes/missing"),
        client.get("/v1", headers=v(99)),
        client.post("/v1/nodes", json={}),
    ):
        assert envelope(response)["faultcode"] == "Client"


# --- version discovery ------------------------------------------------------------


def test_root_document(client: TestClient) -> None:
    body = ok(get_plain(client, "/"))
    version = body["default_version"]
    assert version == {
        "id": "v1",
        "links": [{"href": "http://127.0.0.1:6385/v1/", "rel": "self"}],
        "status": "CURRENT",
        "min_version": "1.1",
        "version": mv.MAX_VERSION,
    }
    assert body["versions"] == [version]


@pytest.mark.parametrize("path", ["/v1", "/v1/"])
def test_v1_document(client: TestClient, path: str) -> None:
    body = ok(client.get(path))
    assert body["id"] == "v1"
    assert body["version"]["version"] == mv.MAX_VERSION
    assert body["media_types"][0]["type"] == "application/vnd.openstack.ironic.v1+json"
    assert {link["rel"] for link in body["links"]} == {"self", "describedby"}
    for resource in ("nodes", "ports", "drivers", "volume"):
        assert body[resource] == [
            {"href": f"http://127.0.0.1:6385/v1/{resource}", "rel": "self"},
            {"href": f"http://127.0.0.1:6385/{resource}", "rel": "bookmark"},
        ]


def test_v1_document_has_no_volume_before_1_32(client: TestClient) -> None:
    assert "volume" not in ok(client.get("/v1", headers=v(31)))


def test_volume_root_needs_1_32(client: TestClient) -> None:
    message = error(client.get("/v1/volume", headers=v(31)), 404)
    assert message == "The API is not supported for this version"
    body = ok(client.get("/v1/volume/", headers=v(32)))
    assert body["connectors"][0] == {
        "href": "http://127.0.0.1:6385/v1/volume/connectors",
        "rel": "self",
    }
    assert body["targets"][1] == {
        "href": "http://127.0.0.1:6385/volume/targets",
        "rel": "bookmark",
    }


def test_links_follow_the_host_header(client: TestClient) -> None:
    body = ok(client.get("/v1", headers={"Host": "bm.example.com:6385"}))
    assert body["nodes"][0]["href"] == "http://bm.example.com:6385/v1/nodes"


def test_headers_and_envelope_on_an_unexpected_500(
    services: ApiServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one mock here: a fault no request can provoke, to see the 500 path.
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "catalogue", broken)
    with TestClient(create_app(services), raise_server_exceptions=False) as raw:
        response = raw.get("/v1/drivers", headers=v(30))
    fault = envelope(response)
    assert response.status_code == 500
    assert fault["faultcode"] == "Server"
    assert "boom" not in fault["faultstring"]
    assert_range_headers(response)
    assert_request_ids(response)
    assert response.headers[VERSION_HEADER] == "1.30"


@pytest.mark.parametrize("raw", [b"1.\xb2", b"\xb9.5", b"1.\xff", b"latest\x00"])
def test_raw_header_bytes_are_406_not_500(services: ApiServices, raw: bytes) -> None:
    # Starlette's TestClient re-encodes header values as UTF-8; a real server hands
    # the application the client's bytes, so send them through httpx2's ASGI transport.
    async def call() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=create_app(services))
        async with httpx2.AsyncClient(transport=transport, base_url="http://h") as raw_client:
            return await raw_client.get("/v1/nodes", headers=[(VERSION_HEADER.encode(), raw)])

    response = anyio.run(call)
    assert response.status_code == 406, response.text
    envelope(response)
    assert_range_headers(response)
