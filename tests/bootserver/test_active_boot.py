"""Boot trouble after deploy: an active node that is power-cycled and fails to boot.

The node stays active and says why in last_error (and an event); its next
good boot clears that error, and only that one. The "firmware" is the test,
as in test_boot_flow.py; tests/e2e/test_san_boot_paths.py does it with QEMU.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from tests.api.helpers import force
from tests.bootserver import test_boot_flow as flow
from tests.bootserver.test_boot_flow import BOOT_URL, deploy, fetch_script, make_node
from tests.conftest import wait_for_state, wait_until

CHAP_REJECTED = "errno=0x410d613c"
# The same fixtures as test_boot_flow: its config and its boot server client.
overrides, boot = flow.overrides, flow.boot


def report(boot: TestClient, url: str, event: str) -> int:
    path = url.removeprefix(BOOT_URL).removesuffix("script.ipxe") + f"events/{event}"
    return boot.get(path).status_code


def shown(client: TestClient, uuid: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/nodes/{uuid}").json()
    return body


def active_node(client: TestClient, boot: TestClient) -> str:
    uuid = make_node(client, data_volume=False)
    deploy(client, uuid)
    url, _ = fetch_script(boot)
    assert report(boot, url, "booting") == 200
    wait_for_state(client, uuid, "active")
    return uuid


def fail_once(client: TestClient, boot: TestClient, uuid: str) -> None:
    """The node boots again (same host), and its iPXE reports a CHAP rejection."""
    url, _ = fetch_script(boot)
    assert report(boot, url, f"failed?{CHAP_REJECTED}") == 200
    wait_until(
        lambda: "rejected the CHAP login" in str(shown(client, uuid)["last_error"]),
        what="the boot failure in last_error",
    )


def test_reboot_failure_shows_and_a_good_boot_clears_it(
    client: TestClient, boot: TestClient
) -> None:
    uuid = active_node(client, boot)
    # A reboot through Ironbound unpins the token: the node fetches and reports again.
    response = client.put(f"/v1/nodes/{uuid}/states/power", json={"target": "rebooting"})
    assert response.status_code == 202
    wait_until(lambda: shown(client, uuid)["target_power_state"] is None, what="the reboot")
    fail_once(client, boot, uuid)
    node = shown(client, uuid)
    assert node["provision_state"] == "active" and node["target_provision_state"] is None
    assert node["last_error"].startswith("Boot from volume failed: iPXE error 0x410d613c")
    assert node["driver_internal_info"]["boot_status"]["status"] == "failed"
    assert "rejected the CHAP login" in node["driver_internal_info"]["progress"]
    assert node["power_state"] == "power on"  # an active node is not switched off
    # A fetched script reports booting once (then only sanboot's failure may follow).
    url, _ = fetch_script(boot)
    assert report(boot, url, "booting") == 200
    assert report(boot, url, "booting") == 404
    # Power-cycled at its BMC this time (no unpinning): the same host boots fine.
    wait_until(lambda: shown(client, uuid)["last_error"] is None, what="the error cleared")
    node = shown(client, uuid)
    assert node["provision_state"] == "active"
    assert node["driver_internal_info"]["boot_status"]["status"] == "booting"
    assert "cleared the boot failure" in node["driver_internal_info"]["progress"]
    assert "boot_failure" not in node["driver_internal_info"]


def test_a_good_boot_leaves_other_errors_alone(
    client: TestClient, boot: TestClient, services: ApiServices
) -> None:
    uuid = active_node(client, boot)
    fail_once(client, boot, uuid)
    other = "Storage drift: attachment a-1 of volume v-1 was deleted outside Ironbound."
    force(services, uuid, last_error=other)
    url, _ = fetch_script(boot)
    assert report(boot, url, "booting") == 200
    wait_until(
        lambda: shown(client, uuid)["driver_internal_info"]["boot_status"]["status"] == "booting",
        what="the good boot",
    )
    wait_until(
        lambda: "boot_failure" not in shown(client, uuid)["driver_internal_info"],
        what="the boot failure forgotten",
    )
    node = shown(client, uuid)
    assert node["last_error"] == other
    assert "cleared" not in node["driver_internal_info"]["progress"]


def test_a_contested_boot_is_not_cleared_by_a_good_boot(
    client: TestClient, boot: TestClient
) -> None:
    """In a window an operator's reboot opened (in the deploy's, the deploy fails:
    test_attacker.py)."""
    uuid = active_node(client, boot)
    assert (
        client.put(f"/v1/nodes/{uuid}/states/power", json={"target": "rebooting"}).status_code
        == 202
    )
    wait_until(lambda: shown(client, uuid)["target_power_state"] is None, what="the reboot")
    url, _ = fetch_script(boot)
    with TestClient(boot.app, base_url=BOOT_URL, client=("192.0.2.66", 4000)) as intruder:
        assert intruder.get("/boot/mac/52-54-00-12-34-56").status_code == 404
    wait_until(
        lambda: "two hosts asked" in str(shown(client, uuid)["last_error"]),
        what="the contested boot shown",
    )
    assert report(boot, url, "booting") == 200
    wait_until(
        lambda: "is booting from it" in shown(client, uuid)["driver_internal_info"]["progress"],
        what="the good boot",
    )
    node = shown(client, uuid)
    assert "two hosts asked" in node["last_error"]
    assert node["provision_state"] == "active"


def test_sanboot_failing_after_the_booting_report_fails_the_deploy(
    client: TestClient, boot: TestClient
) -> None:
    """The script reports booting just before sanboot; if sanboot then fails (no EFI
    loader at the path), it reports that too, and the deploy fails after all."""
    uuid = make_node(client, data_volume=False)
    deploy(client, uuid)
    url, _ = fetch_script(boot)
    assert report(boot, url, "booting") == 200
    assert report(boot, url, "failed?errno=0x7f22208e") == 200
    assert report(boot, url, "failed?errno=0x7f22208e") == 404  # two reports at most
    wait_until(
        lambda: shown(client, uuid)["provision_state"] == "deploy failed", what="deploy failed"
    )
    node = shown(client, uuid)
    assert "iPXE error 0x7f22208e" in node["last_error"]
    assert "set efi_boot_loader" in node["last_error"]
    assert node["power_state"] == "power off"
    assert "deploy_boot" not in node["driver_internal_info"]


def test_a_later_sanboot_failure_leaves_the_node_active(
    client: TestClient, boot: TestClient
) -> None:
    uuid = active_node(client, boot)
    url, _ = fetch_script(boot)  # booted again, at its BMC: not the deploy's boot any more
    assert report(boot, url, "booting") == 200
    assert report(boot, url, "failed?errno=0x1d852039") == 200
    wait_until(
        lambda: "nothing bootable" in str(shown(client, uuid)["last_error"]),
        what="the failure shown",
    )
    node = shown(client, uuid)
    assert (node["provision_state"], node["power_state"]) == ("active", "power on")
