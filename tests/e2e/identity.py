"""What a booted Debian shows of the identity its config drive gave it: the user data's
marker on the console, with the host name it runs under, and an SSH login with the key
from meta_data.public_keys (a real client, through the machine's loopback port forward
inside the lab's namespace)."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine

#: Time for cloud-init's first boot under TCG (the system confirms after its last stage).
TO_CLOUD_INIT = 420.0
#: Console lines that mean the boot from iSCSI failed.
FAIL_ON = (r"^Could not open SAN device", r"Kernel panic", r"ALERT! ", r"Gave up waiting for root")


@dataclass(frozen=True)
class Identity:
    """A host name, an SSH key pair and user data that prints a marker on the console."""

    hostname: str
    private_key: Path
    public_key: str
    marker: str

    @property
    def user_data(self) -> str:
        return (
            "#cloud-config\nruncmd:\n"
            f"  - [sh, -c, 'echo {self.marker} host=$(hostname) > /dev/ttyS0']\n"
        )


def new_identity(folder: Path, hostname: str) -> Identity:
    """A fresh ed25519 key pair in `folder` and a fresh marker."""
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", str(private)],
        check=True,
        timeout=30,
    )
    public = private.with_suffix(".pub").read_text().strip()
    return Identity(hostname, private, public, f"IRONBOUND-USERDATA-{secrets.token_hex(4)}")


def check_console(machine: Machine, identity: Identity, since: int, timeout: float) -> None:
    """The user data ran, on the host named by the drive."""
    shown = machine.console.wait_for(
        rf"{identity.marker} host=", timeout=timeout, since=since, fail_on=FAIL_ON
    )
    assert shown.line.endswith(f"host={identity.hostname}"), shown.line


def check_login(lab: Lab, machine: Machine, identity: Identity) -> None:
    """The key from the drive logs in; the system runs with `/` on the iSCSI volume."""
    login = subprocess.run(
        lab.in_namespace(
            [
                "ssh", "-i", str(identity.private_key), "-p", str(machine.ssh_port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=20", "-o", "BatchMode=yes",
                "debian@127.0.0.1", "hostname && findmnt -n -o FSTYPE /",
            ]
        ),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert login.stdout.split() == [identity.hostname, "ext4"]
