"""No failure deletes a volume the node keeps or was active on, against a real tgtd and
the boot server: a deploy or rebuild that fails, however it fails, leaves it kept, data
untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound.api.services import ApiServices
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import ok, provision
from tests.bootserver import test_boot_flow as flow
from tests.bootserver.test_active_boot import report
from tests.bootserver.test_boot_flow import BOOT_URL, fetch_script
from tests.conftest import wait_until
from tests.managed.support import (
    boot_target,
    enroll,
    image,
    image_folder,
    initiator,
    set_info,
    volume_of,
)
from tests.managed.test_lifecycle import wait_callback

#: The node's PXE MAC, as the boot flow tests' "firmware" fetches it.
MAC = "52:54:00:12:34:56"
DATA = b"the node's own data"
boot = flow.boot


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    """The boot server's URL, a periodic tick (the callback timeout) every 0.2 s, images."""
    return {
        "deploy.http_url": BOOT_URL,
        "conductor.heartbeat_interval": 0.2,
        "conductor.file_url_allowed_paths": [str(image_folder(tmp_path))],
    }


def _write_data(path: Path) -> None:
    """What the node's OS would do: write its own data at the start of its volume."""
    with path.open("r+b") as disk:
        disk.write(DATA)


def _data(path: Path) -> bytes:
    with path.open("rb") as disk:
        return disk.read(len(DATA))


def _booted(client: TestClient, boot: TestClient, node: str) -> None:
    """The node's iPXE fetches its script and reports booting: the deploy lands."""
    url, _ = fetch_script(boot)
    assert report(boot, url, "booting") == 200
    wait_until(lambda: _state(client, node) == "active", what="active")


def _state(client: TestClient, node: str) -> str:
    return str(ok(client.get(f"/v1/nodes/{node}"))["provision_state"])


def _detached(client: TestClient, node: str) -> bool:
    return "volume_attachments" not in ok(client.get(f"/v1/nodes/{node}"))["driver_internal_info"]


def _deploy_failed(client: TestClient, node: str) -> None:
    wait_until(lambda: _state(client, node) == "deploy failed", what="deploy failed")


# How a rebuild fails, from "wait call-back" (the ipxe boot waits for the node).
def _abort(client: TestClient, boot: TestClient, conf: cfg.ConfigOpts, node: str) -> None:
    provision(client, node, "abort", "deploy failed")


def _callback_timeout(
    client: TestClient, boot: TestClient, conf: cfg.ConfigOpts, node: str
) -> None:
    conf.set_override("deploy_callback_timeout", 1, group="conductor")
    _deploy_failed(client, node)


def _contested(client: TestClient, boot: TestClient, conf: cfg.ConfigOpts, node: str) -> None:
    fetch_script(boot)  # the node's own fetch pins its token to its address
    with TestClient(boot.app, base_url=BOOT_URL, client=("192.0.2.66", 4000)) as intruder:
        assert intruder.get(f"/boot/mac/{MAC.replace(':', '-')}").status_code == 404
    _deploy_failed(client, node)


def _sanboot_failed(client: TestClient, boot: TestClient, conf: cfg.ConfigOpts, node: str) -> None:
    url, _ = fetch_script(boot)
    assert report(boot, url, "booting") == 200  # the node goes active...
    assert report(boot, url, "failed?errno=0x7f22208e") == 200  # ...and sanboot fails
    _deploy_failed(client, node)


Failure = Callable[[TestClient, TestClient, cfg.ConfigOpts, str], None]


@pytest.mark.parametrize(
    ("fail", "keep"),
    [
        (_abort, True),
        (_callback_timeout, True),
        (_contested, True),
        (_sanboot_failed, True),
        (_abort, None),
        (_sanboot_failed, None),
    ],
)
def test_a_failed_rebuild_keeps_the_volume_and_its_data(
    client: TestClient,
    services: ApiServices,
    boot: TestClient,
    conf: cfg.ConfigOpts,
    tgtd: TgtServer,
    fail: Failure,
    keep: bool | None,
) -> None:
    """keep_boot_volume true, or unset on a new volume (deleted at undeploy): a failed
    rebuild is no undeploy, so the instance's volume stays whatever way the rebuild fails."""
    info = {} if keep is None else {"keep_boot_volume": keep}
    node = enroll(client, initiator(), boot="ipxe", mac=MAC, **info)
    wait_callback(client, node)
    _booted(client, boot, node)
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None
    _write_data(Path(volume.path))
    provision(client, node, "rebuild")
    wait_until(lambda: _state(client, node) == "wait call-back", what="the rebuild's boot")
    fail(client, boot, conf, node)
    wait_until(lambda: _detached(client, node), what="the failure's detach")
    kept = volume_of(services, volume.uuid)
    assert kept is not None and kept.state == "kept" and kept.node_uuid == node
    assert _data(Path(volume.path)) == DATA
    assert volume.target_iqn not in tgtd.show()


def test_a_failed_rebuild_step_keeps_the_volume(
    client: TestClient, services: ApiServices, tmp_path: Path
) -> None:
    """The rebuild's image write fails (a wrong checksum): the volume and its data stay."""
    node = enroll(client, initiator(), keep_boot_volume=True)
    provision(client, node, "active", "active")
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None
    _write_data(Path(volume.path))
    set_info(client, node, image(tmp_path, 0x61) | {"image_checksum": "sha256:" + "0" * 64})
    provision(client, node, "rebuild", "deploy failed")
    kept = volume_of(services, volume.uuid)
    assert kept is not None and kept.state == "kept"
    assert _data(Path(volume.path)) == DATA


@pytest.mark.parametrize("fail", [_abort, _contested, _sanboot_failed])
def test_a_failed_first_deploy_keeps_a_volume_the_node_keeps(
    client: TestClient,
    services: ApiServices,
    boot: TestClient,
    conf: cfg.ConfigOpts,
    fail: Failure,
) -> None:
    """keep_boot_volume true: even the volume the failed deploy created stays."""
    node = enroll(client, initiator(), boot="ipxe", mac=MAC, keep_boot_volume=True)
    wait_callback(client, node)
    made = boot_target(client, node)["volume_id"]
    fail(client, boot, conf, node)
    wait_until(lambda: _detached(client, node), what="the failure's detach")
    kept = volume_of(services, made)
    assert kept is not None and kept.state == "kept" and Path(kept.path).exists()
