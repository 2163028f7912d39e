"""End to end: multipath with a dead path, a UEFI loader off the fallback path, and
boot trouble after deploy, each booting a QEMU machine through iPXE from the lab's tgt.

One lab for the module. Timings are printed (run with -s to see them) and recorded
in docs/boot.md.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sushy
from sushy.auth import BasicAuth

from ironbound.lab import images
from ironbound.lab.console import ConsoleMatch, clean
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Firmware, Machine
from tests.e2e import support
from tests.e2e.support import (
    BMC_PASSWORD,
    BMC_USER,
    BOOT_TIMEOUT,
    IQN,
    Volume,
    add_target,
    deploy_and_watch,
    enroll,
    export,
    make_available,
    new_machine,
    served_script,
    undeploy_and_check,
    wait_for_state,
)
from tests.serving import Server

pytestmark = pytest.mark.e2e

# Guest-side portals that do not work: nothing listens on this port in the lab's
# namespace, so slirp answers the SYN with a reset (a closed port)...
CLOSED_PORTAL = "10.0.2.2:3299"
# ...and nothing routes to this address from the lab's namespace.
UNROUTED_PORTAL = "10.0.2.99:3260"
ATTACHING = r"Ironbound: attaching volume "  # the console wraps the rest of the line
HOOKED = r"Ironbound: booting from SAN drive 0x80"


@pytest.fixture(scope="module")
def lab_and_server(lab_root: Path) -> Iterator[tuple[Lab, Server]]:
    with support.lab_with_server(lab_root, "paths-e2e") as running:
        yield running


def multipath(volume: Volume, portals: list[str]) -> str:
    """The volume target options of a volume reachable at several portals."""
    chap = (
        f"--property auth_method=CHAP --property auth_username={volume.user} "
        f"--property auth_password={volume.password} "
        if volume.password
        else ""
    )
    return (
        f"--volume-id {volume.iqn.rsplit(':', 1)[1]} {chap}"
        f"--property 'target_portals={json.dumps(portals)}' "
        f"--property 'target_iqns={json.dumps([volume.iqn] * len(portals))}' "
        f"--property 'target_luns={json.dumps([1] * len(portals))}'"
    )


FAIL_ON = [r"^Could not open SAN device", r"Boot from SAN device 0x.. failed", r"^Could not"]


def timed_deploy(server: Server, machine: Machine, node: str, marker: str) -> tuple[float, float]:
    """Deploy; (seconds iPXE spent hooking the volumes, seconds from the deploy call to
    the marker). The first is measured between the script's own echo lines on the
    console, polled every 0.1 s."""
    since = machine.console.offset()
    started = time.monotonic()
    server.baremetal(f"node deploy {node}")

    def watch(pattern: str, timeout: float) -> ConsoleMatch:
        return machine.console.wait_for(
            pattern, timeout=timeout, since=since, started=started, fail_on=FAIL_ON
        )

    attaching = watch(ATTACHING, BOOT_TIMEOUT)
    hooked = watch(HOOKED, 60)
    seen = watch(re.escape(marker), 60)
    wait_for_state(server, node, "active", timeout=60)
    return hooked.elapsed - attaching.elapsed, seen.elapsed


def multipath_node(
    server: Server, lab: Lab, lab_root: Path, case: MultipathCase
) -> tuple[Machine, str, str]:
    """A node with a boot volume (and a data volume if the case says so); the volume of
    each boot index in `case.dead` gets two paths, that dead portal first. Returns the
    machine, the node and the boot marker."""
    machine, initiator, marker = new_machine(lab, case.name, case.mac, case.firmware)
    image = lab_root / f"{case.name}-boot.img"
    disk = (
        images.build_bios_disk(image, marker)
        if case.firmware == "bios"
        else images.build_uefi_disk(image, marker)
    )
    volumes = [export(lab, lab_root, f"{case.name}-boot", disk, initiator)]
    if case.data:
        data_image = images.build_data_disk(lab_root / f"{case.name}-data.img", DATA_MARKER)
        data = export(lab, lab_root, f"{case.name}-data", data_image, initiator, chap=False)
        volumes.append(Volume(data.iqn, "", ""))
    node = enroll(server, lab, machine, initiator)
    # The boot volume's live path is the second tgtd portal, the data volume's the first.
    for index, (volume, live) in enumerate(zip(volumes, LIVE, strict=False)):
        if index in case.dead:
            server.baremetal(
                f"volume target create --node {node} --type iscsi --boot-index {index} "
                + multipath(volume, [case.dead[index], live])
            )
        else:
            add_target(server, lab, node, volume, index)
    make_available(server, node)
    return machine, node, marker


@dataclass(frozen=True)
class MultipathCase:
    name: str
    mac: str
    firmware: Firmware
    #: boot index -> the dead portal put first on that volume's sanhook line
    dead: dict[int, str]
    data: bool = False


DATA_MARKER = "DATA-VOLUME-ON-0x81"
LIVE = ("10.0.2.2:3261", "10.0.2.2:3260")  # the live path of the boot and data volume
CASES = [
    MultipathCase("mp-single", "52:54:00:e2:01:01", "bios", {}),
    MultipathCase("mp-boot-closed", "52:54:00:e2:01:02", "bios", {0: CLOSED_PORTAL}),
    MultipathCase("mp-boot-unrouted", "52:54:00:e2:01:03", "bios", {0: UNROUTED_PORTAL}),
    # BIOS iPXE has no room in its iBFT for three paths (see the next test); UEFI has.
    MultipathCase("mp-data-closed", "52:54:00:e2:01:06", "uefi", {1: CLOSED_PORTAL}, data=True),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_multipath_boots_through_the_live_path(
    lab_and_server: tuple[Lab, Server], lab_root: Path, case: MultipathCase
) -> None:
    lab, server = lab_and_server
    machine, node, marker = multipath_node(server, lab, lab_root, case)
    attach, total = timed_deploy(server, machine, node, marker)
    _, script = served_script(server, machine)
    sanhooks = [line for line in script.splitlines() if line.startswith("sanhook")]
    assert len(sanhooks) == (2 if case.data else 1)
    for index, (role, line) in enumerate(zip(("boot", "data"), sanhooks, strict=False)):
        portals = [case.dead[index], LIVE[index]] if index in case.dead else [lab.portal]
        uris = [
            f"iscsi:{portal.replace(':', '::')}:1:{IQN}:{case.name}-{role}" for portal in portals
        ]
        assert line == f"sanhook --drive 0x8{index} {' '.join(uris)} || goto failed"
    if case.data:
        console = clean(machine.serial_log.read_text(errors="replace"))
        assert "Registered SAN device 0x81" in console
    print(
        f"\n{case.name}: iPXE hooked the volumes in {attach:.1f} s; deploy call -> marker {total:.1f} s"
    )
    # iPXE opens every path at once and keeps the first to log in: a dead path costs no
    # TCP timeout (16 s). Generous bound: the machines share two cores with other QEMUs.
    assert attach < 8
    undeploy_and_check(server, machine, node)


def deploy_fails(server: Server, machine: Machine, node: str, console_line: str) -> str:
    """Deploy and wait: the deploy fails, the machine is off, the console has the line.
    Returns last_error."""
    result = server.baremetal(f"node deploy --wait 240 {node}", check=False)
    assert result.returncode != 0
    shown = server.node(node)
    assert (shown["provision_state"], shown["power_state"]) == ("deploy failed", "power off")
    console = clean(machine.serial_log.read_text(errors="replace")).replace("\n", "")
    assert console_line in console
    return str(shown["last_error"])


def test_three_paths_overflow_the_bios_ibft(
    lab_and_server: tuple[Lab, Server], lab_root: Path
) -> None:
    """BIOS iPXE keeps a small fixed space for the iBFT: a boot volume and a two-path
    data volume (three paths) do not fit in it. The deploy fails and says so."""
    lab, server = lab_and_server
    case = MultipathCase("mp-bios-data", "52:54:00:e2:01:07", "bios", {1: CLOSED_PORTAL}, True)
    machine, node, _ = multipath_node(server, lab, lab_root, case)
    error = deploy_fails(server, machine, node, "Could not describe SAN devices: No space left")
    assert "iPXE error 0x348520" in error and "no room" in error


def test_uefi_loader_off_the_fallback_path(
    lab_and_server: tuple[Lab, Server], lab_root: Path
) -> None:
    lab, server = lab_and_server
    machine, initiator, marker = new_machine(lab, "e2e-uefi-alt", "52:54:00:e2:01:04", "uefi")
    loader = r"\EFI\IRONBOUND\GRUBX64.EFI"
    image = images.build_uefi_disk(
        lab_root / "uefi-alt.img", marker, fallback=False, alt_path=loader
    )
    volume = export(lab, lab_root, "uefi-alt", image, initiator)
    node = enroll(server, lab, machine, initiator)
    add_target(server, lab, node, volume, 0)
    make_available(server, node)
    # Without efi_boot_loader the firmware looks for \EFI\BOOT\BOOTX64.EFI: not there.
    # The sanboot fails after the script reported booting. Waiting for the operating
    # system's confirmation, the node cannot show active however late the failure comes.
    server.baremetal(f"node set {node} --instance-info boot_confirmation=os")
    error = deploy_fails(server, machine, node, "Boot from SAN device 0x80 failed: Error 0x7f2220")
    assert "iPXE error 0x7f2220" in error and "set efi_boot_loader" in error
    server.baremetal(f"node unset {node} --instance-info boot_confirmation")
    (target,) = server.json(f"volume target list --node {node}")
    server.baremetal(f"volume target set {target['uuid']} --property 'efi_boot_loader={loader}'")
    elapsed = deploy_and_watch(server, machine, node, marker)
    print(f"\nUEFI, loader at {loader}: deploy call -> marker: {elapsed:.1f} s")
    _, script = served_script(server, machine)
    assert f"sanboot --no-describe --drive 0x80 --filename {loader} || goto failed" in script
    undeploy_and_check(server, machine, node)


def wait_for_error(server: Server, node: str, needle: str | None) -> dict[str, Any]:
    """Wait for last_error to contain `needle` (None: to be empty); the node stays active."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        shown = server.node(node)
        assert shown["provision_state"] == "active", shown
        error = shown["last_error"]
        if (needle is None and error is None) or (needle and needle in str(error)):
            return shown
        assert time.monotonic() < deadline, f"last_error is {error!r}, waited for {needle!r}"
        time.sleep(0.5)


def test_chap_broken_after_deploy_shows_and_clears(
    lab_and_server: tuple[Lab, Server], lab_root: Path
) -> None:
    lab, server = lab_and_server
    machine, initiator, marker = new_machine(lab, "e2e-trouble", "52:54:00:e2:01:05", "bios")
    volume = export(
        lab, lab_root, "trouble-boot",
        images.build_bios_disk(lab_root / "trouble.img", marker), initiator,
    )  # fmt: skip
    node = enroll(server, lab, machine, initiator)
    add_target(server, lab, node, volume, 0)
    make_available(server, node)
    deploy_and_watch(server, machine, node, marker)

    # The SAN admin changes the node's CHAP secret; the node is rebooted through Ironbound.
    lab.tgt.change_chap_password(volume.user, f"Changed-{secrets.token_hex(4)}")
    since = machine.console.offset()
    started = time.monotonic()
    server.baremetal(f"node reboot {node}")
    shown = wait_for_error(server, node, "rejected the CHAP login")
    elapsed = time.monotonic() - started
    print(f"\nCHAP broken: reboot call -> last_error shown: {elapsed:.1f} s")
    # iPXE named the volume it was hooking (its target's uuid) in its report.
    target = server.json(f"volume target list --node {node} --fields uuid")[0]["uuid"]
    assert str(shown["last_error"]).startswith(
        f"Boot from volume failed: volume target {target} (volume trouble-boot): "
        "iPXE error 0x410d61"
    )
    assert shown["power_state"] == "power on"
    assert shown["driver_internal_info"]["boot_status"]["status"] == "failed"
    machine.console.wait_for(
        r"Could not open SAN device: Operation not permitted", timeout=30, since=since
    )

    # The secret is restored; the node is power-cycled at its BMC (not through Ironbound).
    lab.tgt.change_chap_password(volume.user, volume.password)
    since = machine.console.offset()
    started = time.monotonic()
    bmc = sushy.Sushy(lab.redfish_url, auth=BasicAuth(BMC_USER, BMC_PASSWORD))
    bmc.get_system(machine.redfish_system).reset_system(sushy.ResetType.FORCE_RESTART)
    machine.console.wait_for(re.escape(marker), timeout=BOOT_TIMEOUT, since=since)
    shown = wait_for_error(server, node, None)
    print(f"\nCHAP restored: BMC restart -> last_error cleared: {time.monotonic() - started:.1f} s")
    info = shown["driver_internal_info"]
    assert info["boot_status"]["status"] == "booting"
    assert "cleared the boot failure" in info["progress"]

    # Broken and restored once more, rebooted through Ironbound both times.
    lab.tgt.change_chap_password(volume.user, f"Changed-{secrets.token_hex(4)}")
    server.baremetal(f"node reboot {node}")
    wait_for_error(server, node, "rejected the CHAP login")
    lab.tgt.change_chap_password(volume.user, volume.password)
    since = machine.console.offset()
    server.baremetal(f"node reboot {node}")
    machine.console.wait_for(re.escape(marker), timeout=BOOT_TIMEOUT, since=since)
    # A power action through the API clears last_error when it succeeds (as Ironic's
    # does), before the node boots: wait for the good boot's report itself.
    wait_until_booting(server, node)
    assert server.node(node)["last_error"] is None
    undeploy_and_check(server, machine, node)


def wait_until_booting(server: Server, node: str) -> None:
    """Wait for the node's own report that its boot volume is attached (after a reboot)."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while server.node(node)["driver_internal_info"]["boot_status"]["status"] != "booting":
        assert time.monotonic() < deadline, "the node never reported a good boot"
        time.sleep(0.5)
