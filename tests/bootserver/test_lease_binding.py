"""With dnsmasq's lease file, a node is served only at the address DHCP leased its MAC.

docs/security.md, "Bound to the DHCP lease": an address the lease file does
not give one of the node's pxe_enabled MACs gets the plain 404 for the
node's chain, script and reports, and writes nothing (no pin, no contest).
A host that holds a lease of the node's MAC too (it asked DHCP with that MAC)
is a second claimant as before: it fails the deploy visibly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.bootserver.app import create_boot_app
from ironbound.db import nodes, tokens
from ironbound.db.models import BootToken
from tests.bootserver.test_boot_flow import (
    BOOT_OVERRIDES,
    BOOT_URL,
    deploy,
    fetch_script,
    make_node,
)
from tests.conftest import wait_for_state, wait_until

MAC = "52:54:00:12:34:56"  # make_node's pxe port
NODE = "192.0.2.10"
ATTACKER = "192.0.2.66"
MAC_PATH = "/boot/mac/52-54-00-12-34-56"

Boot = Callable[[str], TestClient]
Lease = Callable[..., None]


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    return {
        **BOOT_OVERRIDES,
        "dhcp.dhcp_provider": "dnsmasq",
        "dnsmasq.dhcp_hostsdir": str(tmp_path / "hosts"),
        "dnsmasq.dhcp_optsdir": str(tmp_path / "opts"),
        "dnsmasq.dhcp_leasefile": str(tmp_path / "dnsmasq.leases"),
        "bootserver.mac_lookup": True,  # so the by-MAC chain is bound too
    }


@pytest.fixture
def lease(tmp_path: Path) -> Lease:
    """Write the lease file as dnsmasq would: lease(mac, address, ...), expiring in 600 s
    (or `expires_in` seconds); each call replaces the file."""

    def write(*pairs: str, expires_in: int = 600) -> None:
        expiry = int(time.time()) + expires_in
        lines = [
            f"{expiry} {mac} {address} * *\n"
            for mac, address in zip(pairs[::2], pairs[1::2], strict=True)
        ]
        (tmp_path / "dnsmasq.leases").write_text("".join(lines))

    return write


@pytest.fixture
def boot(services: ApiServices) -> Iterator[Boot]:
    """Boot server clients at the given addresses, sharing one app (one lease cache)."""
    app = create_boot_app(services.conf, services.db, services.box, services.signals)
    opened: list[TestClient] = []

    def at(address: str) -> TestClient:
        opened.append(TestClient(app, base_url=BOOT_URL, client=(address, 40000)))
        return opened[-1].__enter__()

    yield at
    for client in opened:
        client.__exit__(None, None, None)


def _token_row(services: ApiServices, uuid: str) -> BootToken:
    with services.db.read() as session:
        row = tokens.get(session, nodes.get_by_uuid(session, uuid).id)
        assert row is not None
        return row


def _events_path(url: str) -> str:
    return url.removeprefix(BOOT_URL).removesuffix("script.ipxe") + "events/"


def test_an_address_dhcp_did_not_lease_to_the_node_gets_nothing_and_writes_nothing(
    client: TestClient, services: ApiServices, boot: Boot, lease: Lease
) -> None:
    uuid = make_node(client)
    deploy(client, uuid)
    lease(MAC, NODE, "52:54:00:66:66:66", ATTACKER)  # the attacker's lease is its own MAC's
    attacker, node = boot(ATTACKER), boot(NODE)
    url = node.get(MAC_PATH).text.splitlines()[1].removeprefix("chain ")
    script_path = url.removeprefix(BOOT_URL)
    for path in (MAC_PATH, script_path, _events_path(url) + "booting"):
        refused = attacker.get(path)
        assert (refused.status_code, refused.text) == (404, "Not found\n"), path
    row = _token_row(services, uuid)
    assert (row.pinned_address, row.contested) == (NODE, False)  # no contest: it got nothing
    # The node, at its leased address, boots as ever.
    assert "Secret-Pass-1" in node.get(script_path).text
    assert node.get(_events_path(url) + "booting").status_code == 200
    assert wait_for_state(client, uuid, "active")["last_error"] is None


def test_before_the_node_asks_an_unleased_host_cannot_take_the_pin(
    client: TestClient, services: ApiServices, boot: Boot, lease: Lease
) -> None:
    """The race the pin alone leaves open (a token read from a DHCP broadcast, a known
    MAC) is closed: the first asker must hold the node's lease."""
    uuid = make_node(client)
    deploy(client, uuid)
    lease(MAC, NODE)
    assert boot(ATTACKER).get(MAC_PATH).status_code == 404
    assert _token_row(services, uuid).pinned_address is None
    _, body = fetch_script(boot(NODE))
    assert "Secret-Pass-1" in body


def test_the_node_itself_is_refused_without_a_current_lease(
    client: TestClient, boot: Boot, lease: Lease
) -> None:
    uuid = make_node(client)
    deploy(client, uuid)
    node = boot(NODE)
    assert node.get(MAC_PATH).status_code == 404  # no lease file yet
    lease(MAC, NODE, expires_in=-1)
    assert node.get(MAC_PATH).status_code == 404  # expired
    lease(MAC, NODE)
    fetch_script(node)


def test_a_report_needs_the_lease_still(client: TestClient, boot: Boot, lease: Lease) -> None:
    """dnsmasq gave the node's address to another MAC: what comes from it is not the node."""
    uuid = make_node(client)
    deploy(client, uuid)
    lease(MAC, NODE)
    node = boot(NODE)
    url, _ = fetch_script(node)
    lease("52:54:00:66:66:66", NODE)
    assert node.get(_events_path(url) + "booting").status_code == 404
    assert node.get(url.removeprefix(BOOT_URL)).status_code == 404
    lease(MAC, NODE)
    assert node.get(_events_path(url) + "booting").status_code == 200
    wait_for_state(client, uuid, "active")


def test_a_second_host_leased_the_node_mac_still_fails_the_deploy(
    client: TestClient, boot: Boot, lease: Lease
) -> None:
    """A host that got a lease for the node's MAC (DHCP answers whoever sends it) and
    wins the race is a second claimant, as without a lease file: a visible failure."""
    uuid = make_node(client)
    deploy(client, uuid)
    lease(MAC, ATTACKER, MAC, NODE)
    assert boot(ATTACKER).get(MAC_PATH).status_code == 200
    assert boot(NODE).get(MAC_PATH).status_code == 404
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "deploy failed",
        what="the contested deploy to fail",
    )
    error = client.get(f"/v1/nodes/{uuid}").json()["last_error"]
    assert f"{ATTACKER} was served and {NODE} was refused" in error


def test_only_pxe_enabled_macs_count(client: TestClient, boot: Boot, lease: Lease) -> None:
    """DHCP boots the node by its pxe_enabled ports; a lease of its other NIC is not it."""
    uuid = make_node(client)
    other = "52:54:00:12:34:57"
    body = {"address": other, "node_uuid": uuid, "pxe_enabled": False}
    assert client.post("/v1/ports", json=body).status_code == 201
    deploy(client, uuid)
    lease(other, NODE)
    assert boot(NODE).get(MAC_PATH).status_code == 404
    lease(MAC, NODE)
    fetch_script(boot(NODE))
