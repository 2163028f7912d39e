"""End to end: Debian with its root filesystem on an iSCSI LUN, deployed by Ironbound.

The image is the one `ironbound image build` makes (ironbound.osimage), cached in the
lab's cache folder (scripts/setup builds it). Each test writes it raw onto a file the
lab's tgt exports with CHAP, enrolls a machine with the `external` storage interface
and deploys it. iPXE attaches the LUN and hands over an iBFT; SYSLINUX (BIOS) or GRUB
(UEFI) loads Linux from it; the initramfs logs in again from the iBFT and mounts /
from the LUN; systemd's report unit then prints, from inside the guest, where / lives
and which iSCSI sessions the OS holds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound.lab import osimage, toolenv
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Firmware
from tests.e2e.support import (
    IQN,
    add_target,
    enroll,
    export,
    lab_with_server,
    make_available,
    wait_for_state,
)
from tests.serving import Server

pytestmark = pytest.mark.e2e

#: Generous but finite for TCG; see docs/os-image.md for the measured times.
TO_KERNEL_TIMEOUT = {"bios": 120.0, "uefi": 240.0}
TO_USERSPACE_TIMEOUT = 240.0
FAIL_ON = (
    r"^Could not open SAN device",
    r"Boot from SAN device 0x.. failed",
    r"Kernel panic",
    r"ALERT! ",
    r"Gave up waiting for root",
)


@pytest.fixture(scope="module")
def lab_and_server(lab_root: Path) -> Iterator[tuple[Lab, Server]]:
    with lab_with_server(lab_root, "linux-e2e") as running:
        yield running


@pytest.fixture(scope="module")
def debian_image() -> Path:
    return osimage.debian_image(toolenv.default_cache_dir())


@pytest.mark.parametrize(
    ("firmware", "mac"),
    [("bios", "52:54:00:e2:00:41"), ("uefi", "52:54:00:e2:00:42")],
)
def test_debian_boots_with_its_root_on_the_iscsi_volume(
    lab_and_server: tuple[Lab, Server],
    lab_root: Path,
    debian_image: Path,
    firmware: Firmware,
    mac: str,
) -> None:
    lab, server = lab_and_server
    machine = lab.add_machine(f"e2e-linux-{firmware}", mac, firmware)
    initiator = f"{IQN}:node-linux-{firmware}"
    disk = osimage.write_raw(debian_image, lab_root / f"linux-{firmware}.img")
    volume = export(lab, lab_root, f"linux-{firmware}", disk, initiator)
    node = enroll(server, lab, machine, initiator)
    add_target(server, lab, node, volume, 0)
    make_available(server, node)

    since = machine.console.offset()
    started = time.monotonic()
    server.baremetal(f"node deploy {node}")

    def see(pattern: str, timeout: float) -> str:
        match = machine.console.wait_for(
            pattern, timeout=timeout, since=since, started=started, fail_on=FAIL_ON
        )
        print(f"  {firmware}: {match.elapsed:6.1f} s  {match.line[:100]}")
        return match.line

    print(f"\n{firmware}: deploy API call ->")
    see(r"IRONBOUND-(SYSLINUX|GRUB) loading", TO_KERNEL_TIMEOUT[firmware])
    see(r"Linux version \d", TO_KERNEL_TIMEOUT[firmware])
    root = see(r"IRONBOUND-ROOT ", TO_USERSPACE_TIMEOUT)
    session = see(r"IRONBOUND-ISCSI-SESSION ", 30)
    count = see(r"IRONBOUND-BOOT-COUNT ", 30)
    see(r"IRONBOUND-USERSPACE ", 30)

    # / is the ext4 root partition of a SCSI disk that belongs to an iSCSI session,
    # and the OS holds a session to the volume Ironbound booted it from.
    assert re.search(r"source=/dev/sd[a-z]2 fstype=ext4 iscsi=session\d+$", root), root
    assert f"{lab.portal},1 {volume.iqn} " in session, session
    assert re.search(r"n=1 first-boot=\d{4}-\d\d-\d\dT", count), count
    wait_for_state(server, node, "active", timeout=60)
    server.baremetal(f"node undeploy --wait 120 {node}")
