"""A CHAP secret a second host took in the deploy's boot window opens nothing afterwards,
against a real tgtd: the contested deploy fails, and its detach ends the node's export
and its CHAP account (issue 24). docs/security.md, "The boot server"."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound.api.services import ApiServices
from ironbound.bootserver.app import create_boot_app
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import provision
from tests.bootserver.test_boot_flow import BOOT_URL, fetch_script
from tests.conftest import wait_for_state, wait_until
from tests.managed.support import boot_target, enroll, initiator, login, volume_of

NODE = ("192.0.2.10", 40000)
ATTACKER = ("192.0.2.66", 40000)


def _stolen_password(script: str) -> str:
    found = re.search(r"^set password (\S+)$", script, re.MULTILINE)
    assert found is not None, "the script carries the node's CHAP secret"
    return found[1]


def _wait(client: TestClient, node: str, state: str) -> None:
    wait_until(
        lambda: client.get(f"/v1/nodes/{node}").json()["provision_state"] == state, what=state
    )


def test_a_secret_won_in_the_race_opens_nothing_once_the_node_asks(
    client: TestClient, services: ApiServices, conf: cfg.ConfigOpts, tgtd: TgtServer
) -> None:
    conf.set_override("http_url", BOOT_URL, group="deploy")
    iqn = initiator()
    node = enroll(client, iqn, boot="ipxe", mac="52:54:00:12:34:56")
    provision(client, node, "active")
    _wait(client, node, "wait call-back")
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None
    portal = tgtd.host_portals[0]
    app = create_boot_app(conf, services.db, services.box, services.signals)
    with (
        TestClient(app, base_url=BOOT_URL, client=ATTACKER) as attacker,
        TestClient(app, base_url=BOOT_URL, client=NODE) as node_firmware,
    ):
        url, script = fetch_script(attacker)  # the attacker asked first
        stolen = _stolen_password(script)
        assert login(portal, volume, iqn, stolen).returncode == 0  # it opens the volume now
        events = url.removeprefix(BOOT_URL).removesuffix("script.ipxe") + "events/"
        assert attacker.get(events + "booting").status_code == 200
        wait_for_state(client, node, "active")
        assert node_firmware.get("/boot/mac/52-54-00-12-34-56").status_code == 404
    _wait(client, node, "deploy failed")
    wait_until(lambda: volume.target_iqn not in tgtd.show(), what="the export ended")
    assert login(portal, volume, iqn, stolen).returncode != 0
    accounts = tgtd._control("--mode", "account", "--op", "show")
    assert volume.auth_username is not None
    assert volume.auth_username not in accounts
    shown = client.get(f"/v1/nodes/{node}").json()
    assert "192.0.2.66 was served and 192.0.2.10 was refused" in shown["last_error"]
