"""End to end: the booted machine gets its identity from its config drive.

`baremetal node deploy --config-drive '{"meta_data": ..., "user_data": ...}'` (the JSON
form of API 1.56: the conductor builds the ISO) on a `managed` node, whose drive is a
read-only LUN of its own target, and on an `external` node, whose drive is a read-only
target on Ironbound's tgtd hooked after the operator's volume. (The CLI's folder form,
an ISO it builds and sends gzipped in base64, is the ramdisk test's; Nova's ISO the
Cinder test's.) Ironbound writes the Debian image (with cloud-init) onto the volume; the machine boots Linux from iSCSI, cloud-init finds the drive by its
label, takes the host name, runs the user data (which prints a marker on the console)
and installs the SSH key, and its phone_home confirms the boot: the node is `active`
only then. A real SSH client logs in with the key. Undeploy takes the drive away.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest

from ironbound.drivers.storage import config_drive_target
from ironbound.lab import osimage, toolenv
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine
from tests.e2e.identity import TO_CLOUD_INIT, check_console, check_login, new_identity
from tests.e2e.support import (
    IQN,
    Image,
    add_target,
    enroll,
    export,
    lab_with_server,
    make_available,
    managed_config,
    wait_for_state,
)
from tests.serving import Server

pytestmark = pytest.mark.e2e


def _config(lab: Lab) -> str:
    """The managed target, and time for cloud-init's first boot under TCG (the system
    confirms only after its last stage)."""
    return managed_config(lab) + f"[conductor]\ndeploy_callback_timeout = {TO_CLOUD_INIT:g}\n"


def _image_info(server: Server, node: str, image: Image) -> None:
    """The image to write, and `active` only once the booted system confirms."""
    server.baremetal(
        f"node set {node} --instance-info image_source={image.url} "
        f"--instance-info image_checksum=sha256:{image.checksum} "
        "--instance-info root_gb=2 --instance-info boot_confirmation=os"
    )
    make_available(server, node)


def _deploy_with_identity(
    lab: Lab, server: Server, machine: Machine, node: str, folder: Path
) -> None:
    """Deploy with a config drive (host name, SSH key, user data) as a JSON object; see
    the user data run on the right host, the node active once confirmed, and log in with
    the key."""
    identity = new_identity(folder, f"{machine.name}-host")
    meta_data: dict[str, object] = {
        "uuid": node,
        "hostname": identity.hostname,
        "public_keys": {"e2e": identity.public_key},
    }
    drive = shlex.quote(json.dumps({"meta_data": meta_data, "user_data": identity.user_data}))
    since, started = machine.console.offset(), time.monotonic()
    server.baremetal(f"node deploy {node} --config-drive {drive}")
    check_console(machine, identity, since, timeout=TO_CLOUD_INIT)
    wait_for_state(server, node, "active", timeout=120)
    elapsed = time.monotonic() - started
    node_shown = server.node(node)
    assert node_shown["driver_internal_info"]["boot_status"]["status"] == "up"
    assert node_shown["instance_info"]["configdrive"] == "******"
    print(f"\n{machine.name}: deploy call -> active (the system confirmed): {elapsed:.1f} s")
    check_login(lab, machine, identity)


def test_a_managed_node_takes_its_identity_from_the_config_drive(
    debian_image: Image, lab_root: Path
) -> None:
    """The drive, sent as a JSON object, is LUN 2 of the node's own target."""
    with lab_with_server(lab_root, "configdrive", _config) as (lab, server):
        machine = lab.add_machine("e2e-cd-managed", "52:54:00:e2:00:61", "bios", ssh=True)
        node = enroll(server, lab, machine, f"{IQN}:cd-managed", storage="managed")
        _image_info(server, node, debian_image)
        _deploy_with_identity(lab, server, machine, node, lab_root / "cd-managed")
        server.baremetal(f"node undeploy --wait 120 {node}")
        assert "LUN: 2" not in lab.tgt.show()
        assert not list((lab_root / "configdrive-server").rglob("config-drive-*.iso"))


def test_an_external_node_takes_its_identity_from_a_target_of_ironbounds_own(
    lab_root: Path,
) -> None:
    """The operator's volume (the Debian image on the lab's tgt, as the SAN admin put it
    there) is the boot target; the drive is a second target on Ironbound's tgtd, hooked
    after it."""
    with lab_with_server(lab_root, "configdrive-ext", _config) as (lab, server):
        machine = lab.add_machine("e2e-cd-external", "52:54:00:e2:00:62", "bios", ssh=True)
        initiator = f"{IQN}:cd-external"
        disk = osimage.write_raw(
            osimage.debian_image(toolenv.default_cache_dir()), lab_root / "cd-external.img"
        )
        volume = export(lab, lab_root, "cd-external", disk, initiator)
        node = enroll(server, lab, machine, initiator)
        add_target(server, lab, node, volume, 0)
        server.baremetal(f"node set {node} --instance-info boot_confirmation=os")
        make_available(server, node)
        _deploy_with_identity(lab, server, machine, node, lab_root / "cd-external")
        listed = server.json(f"volume target list --node {node} --fields volume_id boot_index")
        assert {t["volume_id"]: t["boot_index"] for t in listed} == {
            volume.iqn.rsplit(":", 1)[1]: 0,
            "config-drive": 1,
        }
        server.baremetal(f"node undeploy --wait 120 {node}")
        assert config_drive_target.account_name(node) not in lab.tgt.show()
