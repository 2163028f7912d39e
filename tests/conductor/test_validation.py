"""A flow validates only the interfaces it names: a power action asks no Cinder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from ironbound import config
from tests.api.helpers import create_connector, create_node, create_target, ok, power


class _Counting(BaseHTTPRequestHandler):
    """Answers every GET (all that validating asks) 503 and remembers its path."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def cinder_calls() -> Iterator[tuple[str, list[str]]]:
    """A loopback stand-in for Cinder's endpoint that counts the requests it gets."""
    seen: list[str] = []
    handler = type("Handler", (_Counting,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v3", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def conf(conf: cfg.ConfigOpts, cinder_calls: tuple[str, list[str]]) -> cfg.ConfigOpts:
    config.register_library_opts(conf)
    conf.register_opts(ks_loading.get_auth_plugin_conf_options("admin_token"), group="cinder")
    for name, value in (
        ("auth_type", "admin_token"),
        ("endpoint", cinder_calls[0]),
        ("token", "counted"),
        ("action_retries", 1),
        ("action_retry_interval", 0.2),
        ("default_timeout", 5.0),
    ):
        conf.set_override(name, value, group="cinder")
    return conf


def _cinder_node(client: TestClient) -> str:
    node = create_node(
        client,
        storage_interface="cinder",
        deploy_interface="direct",
        properties={"capabilities": "iscsi_boot:True"},
    )["uuid"]
    create_connector(client, node)
    create_target(client, node, volume_id="counted-volume")
    return str(node)


def test_a_power_action_on_a_cinder_node_asks_cinder_nothing(
    client: TestClient, cinder_calls: tuple[str, list[str]]
) -> None:
    node = _cinder_node(client)
    power(client, node, "power on")
    power(client, node, "power off")
    assert cinder_calls[1] == []


def test_a_boot_device_change_on_a_cinder_node_asks_cinder_nothing(
    client: TestClient, cinder_calls: tuple[str, list[str]]
) -> None:
    node = _cinder_node(client)
    body = {"boot_device": "pxe", "persistent": False}
    ok(client.put(f"/v1/nodes/{node}/management/boot_device", json=body), 204)
    assert cinder_calls[1] == []


def test_validate_still_asks_cinder_for_the_whole_table(
    client: TestClient, cinder_calls: tuple[str, list[str]]
) -> None:
    node = _cinder_node(client)
    table = ok(client.get(f"/v1/nodes/{node}/validate"))
    assert table["storage"]["result"] is False
    assert "counted-volume" in table["storage"]["reason"]
    assert cinder_calls[1], "the storage interface's validate asked Cinder"
    assert table["power"]["result"] is True
