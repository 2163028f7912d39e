"""Ironbound pointed at the lab's real Cinder: its configuration, and Cinder-side checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ironbound.lab.cinder import CinderLab
from tests.serving import Server

#: The portal Cinder reports, as lab machines reach it (the e2e test forwards it).
GUEST_PORTAL = ("10.0.2.2", 3262)


def cinder_config(lab: CinderLab, *, endpoint: str | None = None) -> str:
    """[cinder] for a noauth Cinder, quick retries, and a storage check every second."""
    return (
        "[cinder]\n"
        "auth_type = admin_token\n"
        f"endpoint = {endpoint or lab.endpoint}\n"
        f"token = {lab.token}\n"
        "action_retries = 1\n"
        "action_retry_interval = 0.2\n"
        "default_timeout = 20\n"
        "[conductor]\n"
        "sync_storage_interval = 1\n"
        "heartbeat_interval = 0.5\n"
    )


def attachments(lab: CinderLab, volume_id: str) -> list[dict[str, Any]]:
    """Cinder's own list of the volume's attachments (attachments API)."""
    found: list[dict[str, Any]] = lab.request(
        "GET", f"/attachments/detail?volume_id={volume_id}", microversion="3.27"
    )["attachments"]
    return [a for a in found if a["volume_id"] == volume_id]


def wait_node(
    server: Server,
    node: str,
    check: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Poll the node until `check` holds; fail with the node as last seen."""
    deadline = time.monotonic() + timeout
    while True:
        shown = server.node(node)
        if check(shown):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"node {node}: no {what} after {timeout} s: {shown}")
        time.sleep(0.2)


def enroll(server: Server, name: str, volume_ids: list[str], initiator: str) -> str:
    """A fake-hardware node that boots from Cinder volumes through the `direct` deploy.

    The fake boot interface stands in for iPXE (the e2e test boots for real), so
    a deploy attaches in Cinder and lands in active without a machine.
    """
    node = server.json(f"node create --driver fake-hardware --name {name}")["uuid"]
    server.baremetal(
        f"node set {name} --storage-interface cinder --deploy-interface direct "
        "--boot-interface fake --property capabilities=iscsi_boot:True"
    )
    server.baremetal(f"volume connector create --node {node} --type iqn --connector-id {initiator}")
    for index, volume_id in enumerate(volume_ids):
        server.baremetal(
            f"volume target create --node {node} --type iscsi --boot-index {index} "
            f"--volume-id {volume_id}"
        )
    server.baremetal(f"node manage --wait 60 {name}")
    server.baremetal(f"node provide --wait 60 {name}")
    return str(node)
