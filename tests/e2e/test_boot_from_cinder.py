"""End to end with a real Cinder: a QEMU machine boots through iPXE from a volume that
Cinder created and exported, with the CHAP credentials Cinder generated.

The operator names only the Cinder volume; Ironbound attaches it through Cinder's
attachments API at deploy, and the node's iPXE logs in to Cinder's tgtd (forwarded
into the lab as 10.0.2.2:3262) with what Cinder answered. Nova's way too: its
sequence of calls, with the config drive it builds, boots a Debian from the volume,
which takes its identity from the drive (a target on Ironbound's own tgtd, the lab's).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import openstack
import pytest

from ironbound.drivers.storage import config_drive_target
from ironbound.lab import images, osimage, toolenv
from ironbound.lab.cinder import CinderLab
from ironbound.lab.environment import GUEST_CINDER_PORTAL_PORT, Lab
from ironbound.lab.machines import Machine
from ironbound.lab.ports import free_tcp_port
from tests.cinder_support import attachments, cinder_attach, cinder_config
from tests.e2e.identity import TO_CLOUD_INIT, check_console, check_login, new_identity
from tests.e2e.support import (
    BMC_PASSWORD,
    BMC_USER,
    deploy_and_watch,
    make_available,
    managed_config,
    served_script,
    undeploy_and_check,
)
from tests.nova_driver import FLAVOR, Instance, NovaIronicDriver, config_drive
from tests.serving import Server, serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cinder,
    # openstacksdk warns about its own deprecated internals whatever the caller does.
    pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning"),
]

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
        config = (
            cinder_config(cinder_lab)
            + (
                f"deploy_callback_timeout = {TO_CLOUD_INIT:g}\n"
                "[deploy]\n"
                f"http_url = {lab.boot_server_url}\n"
                "[redfish]\n"
                "power_state_poll_interval = 0.2\n"
            )
            + managed_config(lab)
        )
        folder = lab_root / "cinder-e2e-server"
        folder.mkdir()
        with serve(folder, config, boot_port=boot_port) as server:
            yield lab, server


def _enroll(server: Server, lab: Lab, machine: Machine, initiator: str, *options: str) -> str:
    """A Redfish node booting with iPXE from Cinder volumes, through `direct`."""
    node = server.json(
        f"node create --driver redfish --name {machine.name} "
        f"--driver-info redfish_address={lab.redfish_url} "
        f"--driver-info redfish_system_id={machine.redfish_system} "
        f"--driver-info redfish_username={BMC_USER} --driver-info redfish_password={BMC_PASSWORD}"
    )["uuid"]
    server.baremetal(f"port create {machine.mac} --node {node}")
    server.baremetal(
        f"node set {node} --boot-interface ipxe --deploy-interface direct "
        "--storage-interface cinder --property capabilities=iscsi_boot:True " + " ".join(options)
    )
    server.baremetal(f"volume connector create --node {node} --type iqn --connector-id {initiator}")
    return str(node)


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

    node = _enroll(server, lab, machine, INITIATOR)
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


def test_nova_boots_debian_from_a_cinder_volume_with_its_config_drive(
    lab_and_server: tuple[Lab, Server], cinder_lab: CinderLab, lab_root: Path
) -> None:
    """Nova's calls (openstacksdk), its Cinder attachment and its config drive (an ISO,
    gzipped, base64); the node is active only once the booted system confirmed."""
    lab, server = lab_and_server
    machine = lab.add_machine("e2e-nova-cd", "52:54:00:e2:00:08", "bios", ssh=True)
    volume_id = cinder_lab.create_volume(1, name="e2e-nova-root")
    # A volume created from an image: the Debian with cloud-init.
    osimage.write_raw(
        osimage.debian_image(toolenv.default_cache_dir()), cinder_lab.backing_file(volume_id)
    )
    node = _enroll(
        server, lab, machine, f"{INITIATOR}-nova", "--resource-class baremetal --property cpu_arch=x86_64",
        "--driver-info boot_confirmation=os",
    )  # fmt: skip
    server.baremetal(f"node add trait {node} CUSTOM_BOOT_FROM_VOLUME")
    make_available(server, node)

    conn = openstack.connection.Connection(auth_type="none", baremetal_endpoint_override=server.url)
    nova = NovaIronicDriver(conn, poll=1.0)
    instance = Instance(uuid=str(uuid.uuid4()), node=node, display_name="nova-cd")
    nova.prepare_for_spawn(instance)
    nova.add_instance_info(instance, FLAVOR)
    connector = nova.volume_connector(instance, hostname="nova-cd")
    attachment_id, instance.block_devices[0] = cinder_attach(
        cinder_lab, volume_id, instance.uuid, connector
    )
    instance.volume_ids[0] = volume_id
    nova.add_volume_targets(instance)
    nova.validate(instance)
    identity = new_identity(lab_root / "nova-cd", "nova-cd-host")
    drive = config_drive(instance, identity.public_key, identity.user_data, identity.hostname)

    since, started = machine.console.offset(), time.monotonic()
    active = nova.deploy(instance, timeout=TO_CLOUD_INIT + 60, config_drive=drive)
    print(f"\nNova, Cinder volume: deploy call -> active (confirmed): "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    assert active.instance_id == instance.uuid
    # The user data ran before phone_home, so its line is there: a bound, not a wait.
    check_console(machine, identity, since, timeout=60)
    assert server.node(node)["driver_internal_info"]["boot_status"]["status"] == "up"
    check_login(lab, machine, identity)
    listed = server.json(f"volume target list --node {node} --fields volume_id boot_index")
    assert {t["volume_id"]: t["boot_index"] for t in listed} == {volume_id: 0, "config-drive": 1}

    nova.destroy(instance, timeout=180)
    assert config_drive_target.account_name(node) not in lab.tgt.show()
    assert [a["id"] for a in attachments(cinder_lab, volume_id)] == [attachment_id]
    cinder_lab.block_storage(as_service=True).delete_attachment(attachment_id)
    cinder_lab.wait_volume_status(volume_id, "available")
