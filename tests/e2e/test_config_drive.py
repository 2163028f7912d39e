"""End to end: the booted machine gets its identity from its config drive.

`baremetal node deploy --config-drive <folder>` on a `managed` node (the CLI builds the
ISO; the JSON form needs API 1.56): Ironbound writes
the Debian image (with cloud-init) onto the volume and exports the config drive as a
read-only LUN of the node's own target. The machine boots Linux from iSCSI, cloud-init
finds the drive by its label, takes the hostname, runs the user-data (which prints a
marker on the console) and installs the SSH key, and its phone_home confirms the boot:
the node is `active` only then. A real SSH client logs in with the key. Undeploy takes
the drive away.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from ironbound.lab.environment import Lab
from tests.e2e.support import (
    IQN,
    Image,
    enroll,
    lab_with_server,
    managed_config,
    wait_for_state,
)

pytestmark = pytest.mark.e2e

TO_CLOUD_INIT = 420.0
FAIL_ON = (r"^Could not open SAN device", r"Kernel panic", r"ALERT! ", r"Gave up waiting for root")


def _config(lab: Lab) -> str:
    """The managed target, and time for cloud-init's first boot under TCG (the system
    confirms only after its last stage)."""
    return managed_config(lab) + f"[conductor]\ndeploy_callback_timeout = {TO_CLOUD_INIT:g}\n"


def _key(folder: Path) -> tuple[Path, str]:
    """A fresh ed25519 key pair; (private key file, public key line)."""
    private = folder / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", str(private)],
        check=True,
        timeout=30,
    )
    return private, private.with_suffix(".pub").read_text().strip()


def _drive_folder(folder: Path, meta_data: dict[str, object], user_data: str) -> Path:
    """A config drive's files as an operator lays them out for `--config-drive`."""
    latest = folder / "openstack" / "latest"
    latest.mkdir(parents=True)
    (latest / "meta_data.json").write_text(json.dumps(meta_data))
    (latest / "user_data").write_text(user_data)
    return folder


def test_a_managed_node_takes_its_identity_from_the_config_drive(
    debian_image: Image, lab_root: Path
) -> None:
    with lab_with_server(lab_root, "configdrive", _config) as (lab, server):
        machine = lab.add_machine("e2e-configdrive", "52:54:00:e2:00:61", "bios", ssh=True)
        node = enroll(server, lab, machine, f"{IQN}:configdrive", storage="managed")
        server.baremetal(
            f"node set {node} --instance-info image_source={debian_image.url} "
            f"--instance-info image_checksum=sha256:{debian_image.checksum} "
            "--instance-info root_gb=2 --instance-info boot_confirmation=os"
        )
        server.baremetal(f"node manage --wait 60 {node}")
        server.baremetal(f"node provide --wait 60 {node}")
        private_key, public_key = _key(lab_root)
        marker = f"IRONBOUND-USERDATA-{secrets.token_hex(4)}"
        hostname = "configdrive-e2e"
        user_data = (
            f"#cloud-config\nruncmd:\n  - [sh, -c, 'echo {marker} host=$(hostname) > /dev/ttyS0']\n"
        )
        drive = _drive_folder(
            lab_root / "configdrive-files",
            {"uuid": node, "hostname": hostname, "public_keys": {"e2e": public_key}},
            user_data,
        )
        since, started = machine.console.offset(), time.monotonic()
        # From a folder the CLI builds the ISO (genisoimage) and sends it gzipped, in base64.
        server.baremetal(f"node deploy {node} --config-drive {drive}")
        shown = machine.console.wait_for(
            rf"{marker} host=", timeout=TO_CLOUD_INIT, since=since, started=started,
            fail_on=FAIL_ON,
        )  # fmt: skip
        assert shown.line.endswith(f"host={hostname}"), shown.line
        wait_for_state(server, node, "active", timeout=120)
        elapsed = time.monotonic() - started
        node_shown = server.node(node)
        assert node_shown["driver_internal_info"]["boot_status"]["status"] == "up"
        assert node_shown["instance_info"]["configdrive"] == "******"
        print(f"\nconfig drive: deploy call -> active (the system confirmed): {elapsed:.1f} s")

        login = subprocess.run(
            lab.in_namespace(
                [
                    "ssh", "-i", str(private_key), "-p", str(machine.ssh_port),
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "ConnectTimeout=20", "-o", "BatchMode=yes",
                    "debian@127.0.0.1", "hostname && findmnt -n -o FSTYPE /",
                ]
            ),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        assert login.stdout.split() == [hostname, "ext4"]

        server.baremetal(f"node undeploy --wait 120 {node}")
        assert "LUN: 2" not in lab.tgt.show()
        assert not list((lab_root / "configdrive-server").rglob("config-drive-*.iso"))
