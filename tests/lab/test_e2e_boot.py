"""End to end: Redfish powers on a machine, iPXE SAN-boots it from tgtd, the marker shows.

Timings (Redfish power-on to marker) are printed in the "lab timings" summary section.
"""

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sushy
from sushy.auth import BasicAuth

from ironbound.lab import images, tools
from ironbound.lab.console import BootFailedError, ConsoleMatch
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine
from ironbound.lab.state import LabState

from .conftest import TIMINGS, BootServer

pytestmark = pytest.mark.e2e

USER, PASSWORD = "admin", "Lab-Redfish-Pass-1"
IQN_PREFIX = "iqn.2026-11.test.lab"
# What iPXE prints when a SAN boot goes wrong (see ipxe-san-features.md §6).
FAILURES = (
    r"^Could not open SAN device",
    r"^Boot from SAN device 0x.. failed",
    r"^Could not boot",
    r"SAN-FAILED",
)
BOOT_TIMEOUT = 120.0  # generous: two TCG guests may share the 2 CI cores with the suite


@pytest.fixture(scope="module")
def lab(lab_root: Path, boot_server: BootServer) -> Iterator[Lab]:
    with Lab(
        lab_root / "e2e", boot_server_port=boot_server.port, redfish_auth=(USER, PASSWORD)
    ) as lab:
        for phase, seconds in lab.timings.items():
            TIMINGS[f"lab start, {phase}"] = seconds
        yield lab


@pytest.fixture(scope="module")
def redfish(lab: Lab) -> sushy.Sushy:
    return sushy.Sushy(lab.redfish_url, auth=BasicAuth(USER, PASSWORD))


def _script(node: str, user: str, password: str, san_lines: list[str]) -> str:
    return "\n".join(
        [
            "#!ipxe",
            f"set initiator-iqn {IQN_PREFIX}:{node}",
            f"set username {user}",
            f"set password {password}",
            *san_lines,
            ":fail",
            "echo SAN-FAILED ${errno}",
            "",
        ]
    )


def _uri(portal: str, lun: int, iqn: str) -> str:
    host, port = portal.split(":")
    return f"iscsi:{host}::{port}:{lun}:{iqn}"


def _power_on(redfish: sushy.Sushy, machine: Machine, marker: str) -> ConsoleMatch:
    """Boot device Pxe (persistent) and power on through Redfish; wait for the marker."""
    system = redfish.get_system(machine.redfish_system)
    assert system.power_state == sushy.POWER_STATE_OFF  # machines start powered off
    system.set_system_boot_options(
        sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_CONTINUOUS
    )
    system.refresh()
    assert system.boot.target == sushy.BOOT_SOURCE_TARGET_PXE
    since = machine.console.offset()
    started = time.monotonic()
    system.reset_system(sushy.RESET_ON)
    match = machine.console.wait_for(
        marker, timeout=BOOT_TIMEOUT, since=since, started=started, fail_on=FAILURES
    )
    system.refresh()
    assert system.power_state == sushy.POWER_STATE_ON
    return match


def _power_off(redfish: sushy.Sushy, machine: Machine) -> None:
    system = redfish.get_system(machine.redfish_system)
    system.reset_system(sushy.RESET_FORCE_OFF)
    system.refresh()
    assert system.power_state == sushy.POWER_STATE_OFF


def test_bios_machine_san_boots_with_chap_and_a_data_volume(
    lab: Lab, redfish: sushy.Sushy, boot_server: BootServer, lab_dir: Path
) -> None:
    boot_iqn, data_iqn = f"{IQN_PREFIX}:bios-boot", f"{IQN_PREFIX}:bios-data"
    boot = images.build_bios_disk(lab_dir / "boot.img", "BIOS-SANBOOT-OK")
    data = images.build_data_disk(lab_dir / "data.img", "DATA-VOLUME-OK")
    for iqn, disk in ((boot_iqn, boot), (data_iqn, data)):
        lab.tgt.add_target(iqn, disk)
        lab.tgt.allow_initiator(iqn, f"{IQN_PREFIX}:node-bios")
        lab.tgt.add_chap(iqn, "node-bios", "Bios-Chap-Pass-1")
    machine = lab.add_machine("node-bios", "52:54:00:1b:00:01", "bios")
    boot_server.set_node_script(
        machine.mac,
        _script(
            "node-bios",
            "node-bios",
            "Bios-Chap-Pass-1",
            [
                f"sanhook --drive 0x80 {_uri(lab.portal, 1, boot_iqn)} || goto fail",
                f"sanhook --drive 0x81 {_uri(lab.portal, 1, data_iqn)} || goto fail",
                "sanboot --no-describe || goto fail",
            ],
        ),
    )
    match = _power_on(redfish, machine, r"^BIOS-SANBOOT-OK$")
    TIMINGS["BIOS: Redfish power-on -> marker"] = match.elapsed
    drives = machine.console.wait_for(r"^BIOS-DRIVE ", timeout=60, since=0)
    assert drives.line == "BIOS-DRIVE DL=0x80 DISKS=0x02"
    drive81 = machine.console.wait_for(r"^BIOS-DRIVE81=", timeout=60, since=0)
    assert drive81.line == "BIOS-DRIVE81=DATA-VOLUME-OK"
    _power_off(redfish, machine)


def test_uefi_machine_san_boots_with_mutual_chap_over_two_paths(
    lab: Lab, redfish: sushy.Sushy, boot_server: BootServer, lab_dir: Path
) -> None:
    iqn = f"{IQN_PREFIX}:uefi-boot"
    disk = images.build_uefi_disk(lab_dir / "uefi.img", "UEFI-SANBOOT-OK")
    lab.tgt.add_target(iqn, disk)
    lab.tgt.allow_initiator(iqn)
    lab.tgt.add_chap(
        iqn,
        "node-uefi",
        "Uefi-Chap-Pass-1",
        target_username="target-uefi",
        target_password="Uefi-Target-Pass-1",
    )
    machine = lab.add_machine("node-uefi", "52:54:00:1e:00:01", "uefi")
    paths = " ".join(_uri(portal, 1, iqn) for portal in lab.portals)
    boot_server.set_node_script(
        machine.mac,
        _script(
            "node-uefi",
            "node-uefi",
            "Uefi-Chap-Pass-1",
            [
                "set reverse-username target-uefi",
                "set reverse-password Uefi-Target-Pass-1",
                f"sanboot {paths} || goto fail",
            ],
        ),
    )
    match = _power_on(redfish, machine, r"^UEFI-SANBOOT-OK$")
    TIMINGS["UEFI: Redfish power-on -> marker"] = match.elapsed
    _power_off(redfish, machine)


def test_a_wrong_chap_secret_fails_visibly_on_the_console(
    lab: Lab, redfish: sushy.Sushy, boot_server: BootServer, lab_dir: Path
) -> None:
    iqn = f"{IQN_PREFIX}:locked"
    lab.tgt.add_target(iqn, images.build_bios_disk(lab_dir / "boot.img", "MUST-NOT-BOOT"))
    lab.tgt.allow_initiator(iqn)
    lab.tgt.add_chap(iqn, "node-locked", "Right-Pass-1")
    machine = lab.add_machine("node-locked", "52:54:00:1c:00:01", "bios")
    boot_server.set_node_script(
        machine.mac,
        _script(
            "node-locked",
            "node-locked",
            "Wrong-Pass-1",
            [f"sanboot {_uri(lab.portal, 1, iqn)} || goto fail"],
        ),
    )
    with pytest.raises(BootFailedError, match="Could not open SAN device"):
        _power_on(redfish, machine, "MUST-NOT-BOOT")
    _power_off(redfish, machine)


def test_forward_bridges_one_more_guest_port_after_the_start(lab: Lab) -> None:
    """As for a CinderLab's portal: guests reach a host service started after the lab."""
    with socket.create_server(("127.0.0.1", 0)) as server:

        def greet() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"HELLO-FROM-HOST\n")

        thread = threading.Thread(target=greet, daemon=True)
        thread.start()
        assert lab.forward("extra", 3262, server.getsockname()[1]) == "10.0.2.2:3262"
        state = LabState.load(lab.workdir)
        assert state is not None
        names = [record.name for record in state.processes]
        assert {"bridge-extra-host", "bridge-extra-netns"} <= set(names)
        holder = next(record for record in state.processes if record.name == "netns-holder")
        done = subprocess.run(
            [tools.program("nsenter"), "-t", str(holder.pid), "-n",
             tools.program("socat"), "-u", "TCP:127.0.0.1:3262", "-"],
            capture_output=True,
            timeout=15,
            check=False,
        )  # fmt: skip
        thread.join(timeout=5)
    assert done.stdout == b"HELLO-FROM-HOST\n", done.stderr
