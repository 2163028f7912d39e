"""What the DHCP tests share: the provider's configuration, a bootable node, its token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ironbound.conductor.worker import Conductor
from ironbound.db import nodes, tokens
from tests.api.helpers import (
    BFV_FIELDS,
    create_connector,
    create_node,
    create_target,
    iscsi_properties,
    ok,
    provision,
)
from tests.conftest import wait_until

URL = "http://192.0.2.1:8080"


def dnsmasq_overrides(tmp_path: Path, **more: Any) -> dict[str, Any]:
    """Config for the dnsmasq provider writing into tmp_path/hosts and tmp_path/opts, its
    dnsmasq's leases in tmp_path/leases."""
    return {
        "deploy.http_url": URL,
        "dhcp.dhcp_provider": "dnsmasq",
        "dnsmasq.dhcp_hostsdir": str(tmp_path / "hosts"),
        "dnsmasq.dhcp_optsdir": str(tmp_path / "opts"),
        "dnsmasq.dhcp_leasefile": str(tmp_path / "leases"),
        **more,
    }


def available_node(client: TestClient, *ports: tuple[str, bool]) -> str:
    """An available ipxe boot-from-volume node with these (MAC, pxe_enabled) ports."""
    node = str(create_node(client, **BFV_FIELDS)["uuid"])
    for mac, pxe in ports:
        body = {"address": mac, "node_uuid": node, "pxe_enabled": pxe}
        ok(client.post("/v1/ports", json=body), 201)
    create_connector(client, node, connector_id=f"iqn.2026-12.org.example:{node}")
    create_target(client, node, properties=iscsi_properties())
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    return node


def state_is(client: TestClient, node: str, state: str) -> None:
    wait_until(
        lambda: client.get(f"/v1/nodes/{node}").json()["provision_state"] == state, what=state
    )


def boot_token(conductor: Conductor, node: str) -> str:
    with conductor.ctx.db.read() as session:
        row = tokens.get(session, nodes.get_by_uuid(session, node).id)
        assert row is not None
        return str(conductor.ctx.box.open(row.sealed_token)["token"])


def deploy(client: TestClient, conductor: Conductor, node: str) -> str:
    """Deploy up to "wait call-back"; the node's script URL (its token inside)."""
    provision(client, node, "active")
    state_is(client, node, "wait call-back")
    return f"{URL}/boot/{boot_token(conductor, node)}/script.ipxe"
