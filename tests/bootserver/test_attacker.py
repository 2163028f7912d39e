"""The boot server from an attacker's seat on the provisioning network.

The attacker knows every MAC (DHCP broadcasts show them) and races the real
node. What it must not get: a node's chain, script or CHAP secrets once the
node has them; a say in the node's fate (reports); the server's write lock
or the events table by repeating itself. docs/security.md, "The boot server".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.bootserver.app import create_boot_app
from ironbound.db.models import NodeEvent
from ironbound.drivers.fake import FakeManagement
from tests.bootserver.test_boot_flow import BOOT_URL, deploy, fetch_script, make_node
from tests.conftest import wait_for_state, wait_until

NODE = ("192.0.2.10", 40000)
ATTACKER = ("192.0.2.66", 40000)
MAC_PATH = "/boot/mac/52-54-00-12-34-56"


@pytest.fixture
def attacker(services: ApiServices) -> Iterator[TestClient]:
    app = create_boot_app(services.conf, services.db, services.box, services.signals)
    with TestClient(app, base_url=BOOT_URL, client=ATTACKER) as client:
        yield client


@pytest.fixture
def node_firmware(services: ApiServices) -> Iterator[TestClient]:
    app = create_boot_app(services.conf, services.db, services.box, services.signals)
    with TestClient(app, base_url=BOOT_URL, client=NODE) as client:
        yield client


@pytest.fixture
def deployed(client: TestClient) -> str:
    """A node waiting for its boot, as right after `baremetal node deploy`."""
    uuid = make_node(client)
    deploy(client, uuid)
    return uuid


def _failed_deploy(client: TestClient, uuid: str) -> dict[str, Any]:
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "deploy failed",
        what="the deploy to fail",
    )
    node: dict[str, Any] = client.get(f"/v1/nodes/{uuid}").json()
    return node


def _events(services: ApiServices) -> int:
    with services.db.read() as session:
        return session.query(NodeEvent).count()


@pytest.mark.usefixtures("deployed")
def test_a_mac_gives_nothing_once_the_node_has_its_script(
    node_firmware: TestClient, attacker: TestClient
) -> None:
    url, body = fetch_script(node_firmware)
    assert "Secret-Pass-1" in body  # the node itself needs its CHAP secret
    for path in (MAC_PATH, url.removeprefix(BOOT_URL)):
        refused = attacker.get(path)
        assert (refused.status_code, refused.text) == (404, "Not found\n"), path


def test_an_attacker_that_wins_the_race_fails_the_deploy(
    client: TestClient, deployed: str, node_firmware: TestClient, attacker: TestClient
) -> None:
    """Two hosts claiming one node: the deploy stops, and says why, instead of booting."""
    uuid = deployed
    assert attacker.get(MAC_PATH).status_code == 200  # the attacker asked first
    assert node_firmware.get(MAC_PATH).status_code == 404  # the node is refused ...
    failed = _failed_deploy(client, uuid)
    assert "two hosts asked for this node's boot script" in failed["last_error"]
    assert "192.0.2.66 was served and 192.0.2.10 was refused" in failed["last_error"]
    assert failed["power_state"] == "power off"


def _events_url(script_url: str) -> str:
    return script_url.removeprefix(BOOT_URL).removesuffix("script.ipxe") + "events/"


def _contested_deploy_fails(client: TestClient, uuid: str) -> None:
    """Failed, saying why, then powered off (an active node shows the failure first)."""
    failed = _failed_deploy(client, uuid)
    assert "192.0.2.66 was served and 192.0.2.10 was refused" in failed["last_error"]
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["power_state"] == "power off",
        what="the power off",
    )


def test_nobody_gets_the_script_before_the_power_on_opens_the_window(
    client: TestClient,
    node_firmware: TestClient,
    attacker: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token exists while the BMC sets the boot device (seconds, on real BMCs); a
    host asking then would get the secrets, and the power-on would erase its pin."""
    answers: list[int] = []
    set_boot_device = FakeManagement.set_boot_device

    def slow_bmc(self: FakeManagement, task: Any, device: str, persistent: bool = False) -> None:
        answers.append(attacker.get(MAC_PATH).status_code)
        set_boot_device(self, task, device, persistent)

    monkeypatch.setattr(FakeManagement, "set_boot_device", slow_bmc)
    uuid = make_node(client)
    deploy(client, uuid)
    assert answers == [404]
    url, _ = fetch_script(node_firmware)
    assert node_firmware.get(_events_url(url) + "booting").status_code == 200
    assert wait_for_state(client, uuid, "active")["last_error"] is None


@pytest.mark.parametrize("again", [False, True], ids=["settled", "fetched-again"])
def test_the_winner_of_the_race_cannot_keep_the_deploy_active(
    client: TestClient, deployed: str, node_firmware: TestClient, attacker: TestClient, again: bool
) -> None:
    """The attacker fetches, reports booting, the deploy settles (active); the real node
    asks next: the deploy fails, even if the attacker began another boot meanwhile."""
    url, body = fetch_script(attacker)
    assert "Secret-Pass-1" in body
    assert attacker.get(_events_url(url) + "booting").status_code == 200
    wait_for_state(client, deployed, "active")
    if again:
        assert attacker.get(url.removeprefix(BOOT_URL)).status_code == 200
    assert node_firmware.get(MAC_PATH).status_code == 404
    _contested_deploy_fails(client, deployed)


def test_an_operating_system_confirmation_from_the_winner_does_not_keep_it_active(
    client: TestClient, node_firmware: TestClient, attacker: TestClient
) -> None:
    uuid = make_node(client)
    client.patch(
        f"/v1/nodes/{uuid}",
        json=[{"op": "add", "path": "/instance_info/boot_confirmation", "value": "os"}],
    )
    deploy(client, uuid)
    url, _ = fetch_script(attacker)
    for event in ("booting", "up"):
        assert attacker.get(_events_url(url) + event).status_code == 200
    wait_for_state(client, uuid, "active")
    assert node_firmware.get(MAC_PATH).status_code == 404
    _contested_deploy_fails(client, uuid)


def test_reports_count_only_from_the_node_once_per_boot(
    client: TestClient, deployed: str, node_firmware: TestClient, attacker: TestClient
) -> None:
    uuid = deployed
    url, _ = fetch_script(node_firmware)
    events = url.removeprefix(BOOT_URL).removesuffix("script.ipxe") + "events/"
    # Someone who learnt the token cannot decide the deploy from another host.
    assert attacker.get(events + "failed?errno=0x410d613c").status_code == 404
    assert attacker.get(events + "booting").status_code == 404
    assert node_firmware.get(events + "booting").status_code == 200
    wait_for_state(client, uuid, "active")
    # A replayed booting report is not accepted; after booting, only the node itself
    # may still report that its sanboot failed.
    assert node_firmware.get(events + "booting").status_code == 404
    assert attacker.get(events + "failed?errno=0x410d613c").status_code == 404
    assert client.get(f"/v1/nodes/{uuid}").json()["last_error"] is None


def test_a_report_without_a_fetched_script_is_refused(
    client: TestClient, deployed: str, node_firmware: TestClient
) -> None:
    uuid = deployed
    chain = node_firmware.get(MAC_PATH)  # pins the token, but fetches no script
    token_url = chain.text.splitlines()[1].removeprefix("chain ").removeprefix(BOOT_URL)
    events = token_url.removesuffix("script.ipxe") + "events/"
    assert node_firmware.get(events + "booting").status_code == 404
    assert client.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "wait call-back"


def test_repeated_requests_add_no_rows(
    client: TestClient,
    deployed: str,
    services: ApiServices,
    node_firmware: TestClient,
    attacker: TestClient,
) -> None:
    uuid = deployed
    url, _ = fetch_script(node_firmware)
    wait_until(
        lambda: (
            "fetched its boot script"
            in str(client.get(f"/v1/nodes/{uuid}").json()["driver_internal_info"])
        ),
        what="the fetch to be recorded",
    )
    before = _events(services)
    for _ in range(50):  # a node stuck in a loop, or a replay of its requests
        assert node_firmware.get(url.removeprefix(BOOT_URL)).status_code == 200
    assert _events(services) == before
    for _ in range(50):  # an attacker hammering a known MAC
        assert attacker.get(MAC_PATH).status_code == 404
    _failed_deploy(client, uuid)  # the first refusal contested the deploy
    assert _events(services) <= before + 8  # that report and the deploy's failure, once


WINDOW = 2.0


@pytest.fixture
def active_after_window(
    client: TestClient, services: ApiServices, node_firmware: TestClient
) -> str:
    """A node deployed and active, whose deploy's boot window (WINDOW s) has closed."""
    services.conf.set_override("deploy_callback_timeout", WINDOW, "conductor")
    uuid = make_node(client)
    deploy(client, uuid)
    url, _ = fetch_script(node_firmware)
    node_firmware.get(_events_url(url) + "booting")
    wait_for_state(client, uuid, "active")
    time.sleep(WINDOW)
    return uuid


def _reboot(client: TestClient, uuid: str) -> None:
    client.put(f"/v1/nodes/{uuid}/states/power", json={"target": "rebooting"})
    wait_until(
        lambda: client.get(f"/v1/nodes/{uuid}").json()["target_power_state"] is None,
        what="the reboot",
    )


def test_outside_a_boot_window_a_stranger_writes_nothing(
    client: TestClient, active_after_window: str, services: ApiServices, attacker: TestClient
) -> None:
    """No host can stamp an alarm on an active node, or add a row, between windows."""
    before = _events(services)
    for _ in range(5):
        assert attacker.get(MAC_PATH).status_code == 404
    time.sleep(0.5)  # what a queued report would take to land
    assert _events(services) == before
    assert client.get(f"/v1/nodes/{active_after_window}").json()["last_error"] is None


def test_ironbound_powering_the_node_on_opens_a_new_window(
    client: TestClient, active_after_window: str, services: ApiServices, node_firmware: TestClient
) -> None:
    """A node whose address changed gets its script again after Ironbound reboots it, and
    a stranger claiming an active node in a window Ironbound opened sets one alarm."""
    uuid = active_after_window
    app = node_firmware.app
    with TestClient(app, base_url=BOOT_URL, client=("192.0.2.11", 1)) as moved:
        assert moved.get(MAC_PATH).status_code == 404  # pinned to the old address
        _reboot(client, uuid)
        assert moved.get(MAC_PATH).status_code == 200
    for _ in range(3):
        assert node_firmware.get(MAC_PATH).status_code == 404
    node = wait_until_error(client, uuid)
    assert node["provision_state"] == "active"  # an operator's reboot: the node stays up
    assert "192.0.2.11 was served and 192.0.2.10 was refused" in node["last_error"]
    time.sleep(0.5)  # what a second report would take to land
    with services.db.read() as session:
        alarms = session.query(NodeEvent).filter(NodeEvent.event.contains("two hosts asked"))
        assert alarms.count() == 1


def wait_until_error(client: TestClient, uuid: str) -> dict[str, Any]:
    wait_until(lambda: client.get(f"/v1/nodes/{uuid}").json()["last_error"], what="an alarm")
    node: dict[str, Any] = client.get(f"/v1/nodes/{uuid}").json()
    return node


def test_no_redirects_and_no_host_header_echo(attacker: TestClient) -> None:
    for path in ("/boot.ipxe/", "/boot/mac/52-54-00-12-34-56/", "/boot/x/script.ipxe/"):
        response = attacker.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert (response.status_code, response.text) == (404, "Not found\n"), path
        assert "location" not in response.headers


def test_a_looping_pinned_host_adds_rows_for_a_few_cycles_a_minute(
    client: TestClient, deployed: str, services: ApiServices, node_firmware: TestClient
) -> None:
    """Fetch, report, fetch, report ...: the node (or the host that holds its pin) is
    still served, but only the first boot_cycles_per_minute cycles are written."""
    url, _ = fetch_script(node_firmware)
    assert node_firmware.get(_events_url(url) + "booting").status_code == 200
    wait_for_state(client, deployed, "active")
    time.sleep(0.5)  # the settle and its records
    before = _events(services)
    for _ in range(40):
        assert node_firmware.get(url.removeprefix(BOOT_URL)).status_code == 200
        node_firmware.get(_events_url(url) + "booting")
    time.sleep(1.0)  # what the queued reports take to land
    per_cycle = 2  # "fetched its boot script", "booting from it"
    assert _events(services) - before <= per_cycle * services.conf.bootserver.boot_cycles_per_minute
    assert client.get(f"/v1/nodes/{deployed}").json()["provision_state"] == "active"


@pytest.mark.usefixtures("deployed")
def test_a_mac_finds_the_node_only_where_nothing_else_does(
    services: ApiServices, node_firmware: TestClient
) -> None:
    """By default the boot server finds a node by MAC with the `none` DHCP provider only:
    there (the demo, the lab, a static DHCP bootfile of /boot.ipxe) it is how a node finds
    its script; with `dnsmasq` DHCP hands each node its token URL, and a MAC gives nothing
    unless [bootserver]mac_lookup says so."""
    conf = services.conf
    assert conf.dhcp.dhcp_provider == "none"
    assert conf.bootserver.mac_lookup is None
    conf.set_override("dhcp_provider", "dnsmasq", "dhcp")
    assert node_firmware.get(MAC_PATH).status_code == 404
    conf.set_override("mac_lookup", True, "bootserver")
    assert node_firmware.get(MAC_PATH).status_code == 200


def test_an_adopted_node_is_served_in_the_window_its_adoption_opens(
    client: TestClient, node_firmware: TestClient
) -> None:
    """Adoption issues a token to a node that already runs: it opens a window at once, so
    the node's next boot finds its script (no power-on of Ironbound's comes first)."""
    uuid = make_node(client)
    for verb, state in (("manage", "manageable"), ("adopt", "active")):
        client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb})
        wait_for_state(client, uuid, state)
    _, body = fetch_script(node_firmware)
    assert "Secret-Pass-1" in body
