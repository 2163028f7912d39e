"""When a deploy that boots through the boot server is done: `active` only for a boot
that did not fail.

The script reports `booting` just before `sanboot`, which can still fail (no EFI
loader at the path, nothing bootable). So the deploy waits: for the booted
operating system's confirmation (`boot_confirmation` os), or for a settle time
that a failed sanboot reports within (settle, the default). The "firmware" and the
"operating system" are the test, as in test_boot_flow.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound import config
from ironbound.api.services import ApiServices
from ironbound.db.models import BootToken, Node, NodeEvent
from tests.bootserver import test_active_boot as active
from tests.bootserver import test_boot_flow as flow
from tests.bootserver.test_active_boot import report, shown
from tests.bootserver.test_boot_flow import deploy, fetch_script, make_node
from tests.conftest import wait_for_state, wait_until

overrides, boot = flow.overrides, flow.boot


def events_of(services: ApiServices, uuid: str) -> list[str]:
    with services.db.read() as session:
        node_id = session.query(Node.id).filter(Node.uuid == uuid).scalar()
        rows = session.query(NodeEvent.event).filter(NodeEvent.node_id == node_id)
        return [event for (event,) in rows.order_by(NodeEvent.id)]


def wait_for_event(services: ApiServices, uuid: str, text: str) -> None:
    wait_until(lambda: any(text in e for e in events_of(services, uuid)), what=text)


def deploy_with(client: TestClient, confirmation: str | None) -> str:
    uuid = make_node(client, data_volume=False)
    if confirmation is not None:
        patch = [{"op": "add", "path": "/instance_info/boot_confirmation", "value": confirmation}]
        assert client.patch(f"/v1/nodes/{uuid}", json=patch).status_code == 200
    deploy(client, uuid)
    return uuid


def handed_over(client: TestClient, boot: TestClient, confirmation: str | None) -> tuple[str, str]:
    """A deploy whose script was fetched and reported booting: (node, script URL)."""
    uuid = deploy_with(client, confirmation)
    url, _ = fetch_script(boot)
    assert report(boot, url, "booting") == 200
    return uuid, url


def up_path(url: str) -> str:
    return url.removeprefix(flow.BOOT_URL).removesuffix("script.ipxe") + "events/up"


def test_settle_is_the_default() -> None:
    assert config.load().deploy.boot_confirmation == config.BOOT_SETTLE


@pytest.mark.parametrize("overrides", [{**flow.BOOT_OVERRIDES, "deploy.boot_settle_time": 3600}])
def test_a_sanboot_failing_within_the_settle_never_shows_active(
    client: TestClient, boot: TestClient, services: ApiServices
) -> None:
    """The race that made a deploy --wait return 0 for a boot that then failed."""
    uuid, url = handed_over(client, boot, None)
    wait_for_event(services, uuid, "the deploy is done in 3600 s unless the boot reports")
    node = shown(client, uuid)
    assert node["provision_state"] == "wait call-back"
    assert node["driver_internal_info"]["boot_status"]["status"] == "booting"
    assert report(boot, url, "failed?errno=0x7f22208e") == 200
    wait_until(
        lambda: shown(client, uuid)["provision_state"] == "deploy failed", what="deploy failed"
    )
    node = shown(client, uuid)
    assert "set efi_boot_loader" in node["last_error"]
    assert node["power_state"] == "power off"
    assert not [e for e in events_of(services, uuid) if e.startswith("deployed")]


def test_a_boot_that_settles_goes_active(
    client: TestClient, boot: TestClient, services: ApiServices
) -> None:
    uuid, url = handed_over(client, boot, None)
    node = wait_for_state(client, uuid, "active")
    assert node["driver_internal_info"]["deploy_boot"] is True
    assert "deployed: no boot failure was reported within the settle time" in events_of(
        services, uuid
    )
    # The operating system's confirmation after the settle is still taken, once.
    assert report(boot, url, "up") == 200
    wait_until(
        lambda: shown(client, uuid)["driver_internal_info"]["boot_status"]["status"] == "up",
        what="the confirmation recorded",
    )
    assert report(boot, url, "up") == 404


def test_the_operating_system_confirms_its_boot(
    client: TestClient, boot: TestClient, services: ApiServices
) -> None:
    uuid = deploy_with(client, config.BOOT_CONFIRMED_BY_OS)
    url, _ = fetch_script(boot)
    assert report(boot, url, "up") == 404  # nothing to confirm before the handover
    assert report(boot, url, "booting") == 200
    wait_for_event(services, uuid, "waiting for the operating system to confirm")
    assert shown(client, uuid)["provision_state"] == "wait call-back"
    with services.db.read() as session:  # no settle time runs for this node
        assert session.query(BootToken.settle_at).scalar() is None
    # cloud-init's phone_home POSTs form fields; their content is never read.
    path = up_path(url)
    confirmed = boot.post(path, data={"instance_id": "x" * 100, "hostname": "h"})
    assert confirmed.status_code == 200
    node = wait_for_state(client, uuid, "active")
    assert node["driver_internal_info"]["boot_status"] == {
        "status": "up",
        "detail": "the operating system came up and confirmed its boot",
    }
    assert "deploy_boot" not in node["driver_internal_info"]
    assert boot.post(path).status_code == 404  # one confirmation a boot


def test_a_confirmation_from_another_host_is_refused(
    client: TestClient, boot: TestClient, services: ApiServices
) -> None:
    uuid, url = handed_over(client, boot, config.BOOT_CONFIRMED_BY_OS)
    path = up_path(url)
    app = boot.app
    with TestClient(app, base_url=flow.BOOT_URL, client=("192.0.2.66", 40000)) as other:
        assert other.post(path).status_code == 404
    assert report(boot, url, "up") == 200
    wait_for_state(client, uuid, "active")


def test_a_timeout_after_the_handover_names_the_missing_confirmation(
    client: TestClient, boot: TestClient, services: ApiServices, conductor: Any
) -> None:
    uuid, _ = handed_over(client, boot, config.BOOT_CONFIRMED_BY_OS)
    wait_for_event(services, uuid, "waiting for the operating system to confirm")
    conductor.ctx.conf.set_override("deploy_callback_timeout", 1, group="conductor")
    wait_until(
        lambda: shown(client, uuid)["provision_state"] == "deploy failed",
        timeout=10,
        what="the callback timeout",
    )
    error = shown(client, uuid)["last_error"]
    assert "handed over to its boot volume" in error
    assert "never confirmed that it came up" in error


def test_a_confirmation_setting_that_is_not_one_fails_validation(client: TestClient) -> None:
    uuid = make_node(client, data_volume=False)
    patch = [{"op": "add", "path": "/driver_info/boot_confirmation", "value": "maybe"}]
    assert client.patch(f"/v1/nodes/{uuid}", json=patch).status_code == 200
    reason = flow.validation_fails(client, uuid, "boot")
    assert "driver_info/boot_confirmation is 'maybe'" in reason


def test_a_reboot_confirmed_by_the_system_clears_a_boot_failure(
    client: TestClient, boot: TestClient
) -> None:
    uuid = active.active_node(client, boot)
    active.fail_once(client, boot, uuid)
    url, _ = fetch_script(boot)
    assert report(boot, url, "booting") == 200
    assert report(boot, url, "up") == 200
    wait_until(lambda: shown(client, uuid)["last_error"] is None, what="the error cleared")
