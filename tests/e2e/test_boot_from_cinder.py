"""End to end with a real Cinder: a QEMU machine boots through iPXE from a volume that
Cinder created and exported, with the CHAP credentials Cinder generated.

The operator names only the Cinder volume; Ironbound attaches it through Cinder's
attachments API at deploy, and the node's iPXE logs in to Cinder's tgtd (forwarded
into the lab as 10.0.2.2:3262) with what Cinder answered.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound.lab import images
from ironbound.lab.cinder import CinderLab
from ironbound.lab.environment import GUEST_CINDER_PORTAL_PORT, Lab
from ironbound.lab.ports import free_tcp_port
from tests.cinder_support import attachments, cinder_config
from tests.e2e.support import (
    BMC_PASSWORD,
    BMC_USER,
    deploy_and_watch,
    make_available,
    served_script,
    undeploy_and_check,
)
from tests.serving import Server, serve

pytestmark = [pytest.mark.e2e, pytest.mark.cinder]

INITIATOR = "iqn.2026-12.org.ironbound.e2e:cinder-node"


@pytest.fixture(scope="module")
def lab_and_server(lab_root: Path, cinder_lab: CinderLab) -> Iterator[tuple[Lab, Server]]:
    boot_port = free_tcp_port()
    with Lab(
        lab_root / "cinder-e2e",
        boot_server_port=boot_port,
        redfish_auth=(BMC_USER, BMC_PASSWORD),
        second_portal=False,
    ) as lab:
        portal = lab.forward("cinder-iscsi", GUEST_CINDER_PORTAL_PORT, cinder_lab.host_portal_port)
        assert portal == cinder_lab.reported_portal
        # cinder_config ends in its [conductor] section: these lines continue it.
        config = cinder_config(cinder_lab) + (
            "deploy_callback_timeout = 120\n"
            "[deploy]\n"
            f"http_url = {lab.boot_server_url}\n"
            "[redfish]\n"
            "power_state_poll_interval = 0.2\n"
        )
        folder = lab_root / "cinder-e2e-server"
        folder.mkdir()
        with serve(folder, config, boot_port=boot_port) as server:
            yield lab, server


def test_bios_boot_from_a_cinder_volume(
    lab_and_server: tuple[Lab, Server], cinder_lab: CinderLab, lab_root: Path
) -> None:
    lab, server = lab_and_server
    machine = lab.add_machine("e2e-cinder", "52:54:00:e2:00:07", "bios")
    marker = f"IRONBOUND-E2E-CINDER-{secrets.token_hex(3)}"
    volume_id = cinder_lab.create_volume(1, name="e2e-cinder-boot")
    # What an image upload would have put there: a boot sector that prints the marker.
    with cinder_lab.backing_file(volume_id).open("r+b") as disk:
        disk.write(images.assemble_mbr(marker))

    node = server.json(
        f"node create --driver redfish --name {machine.name} "
        f"--driver-info redfish_address={lab.redfish_url} "
        f"--driver-info redfish_system_id={machine.redfish_system} "
        f"--driver-info redfish_username={BMC_USER} --driver-info redfish_password={BMC_PASSWORD}"
    )["uuid"]
    server.baremetal(f"port create {machine.mac} --node {node}")
    server.baremetal(
        f"node set {node} --boot-interface ipxe --deploy-interface direct "
        "--storage-interface cinder --property capabilities=iscsi_boot:True"
    )
    server.baremetal(f"volume connector create --node {node} --type iqn --connector-id {INITIATOR}")
    server.baremetal(
        f"volume target create --node {node} --type iscsi --boot-index 0 --volume-id {volume_id}"
    )
    make_available(server, node)

    elapsed = deploy_and_watch(server, machine, node, marker)
    print(f"\nCinder: deploy API call -> boot marker: {elapsed:.1f} s")
    (held,) = attachments(cinder_lab, volume_id)
    assert (held["instance"], held["status"]) == (node, "attached")
    target = server.json(f"volume target list --node {node} --fields properties")[0]
    props = target["properties"]
    assert props["target_portal"] == cinder_lab.reported_portal
    assert props["auth_method"] == "CHAP" and props["auth_password"] == "******"
    _, script = served_script(server, machine)
    # iPXE logged in with Cinder's own CHAP name, to Cinder's target.
    assert f"set username {props['auth_username']}" in script
    assert f"iscsi:10.0.2.2::{GUEST_CINDER_PORTAL_PORT}:1:{props['target_iqn']}" in script

    undeploy_and_check(server, machine, node)
    assert attachments(cinder_lab, volume_id) == []
    assert cinder_lab.volume(volume_id)["status"] == "available"
