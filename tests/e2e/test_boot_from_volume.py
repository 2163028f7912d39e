"""End to end, as an operator: Ironbound boots QEMU machines from tgt iSCSI volumes.

Everything is real: `ironbound serve`, the `baremetal` CLI, sushy-tools as the
machines' Redfish BMC over libvirt (virtualbmc as an IPMI BMC for the `ipmi` run),
QEMU (TCG) with iPXE in the NIC ROM (BIOS) or OVMF (UEFI), tgtd with CHAP. The lab
keeps all traffic on loopback. The shared steps are in tests/e2e/support.py.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sushy
from sushy.auth import BasicAuth

from ironbound.lab import images
from ironbound.lab.environment import Lab
from tests.e2e import support
from tests.e2e.support import (
    BMC_PASSWORD,
    BMC_USER,
    IQN,
    Volume,
    add_target,
    deploy_and_watch,
    enroll,
    export,
    make_available,
    served_script,
    undeploy_and_check,
)
from tests.serving import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab_and_server(lab_root: Path) -> Iterator[tuple[Lab, Server]]:
    with support.lab_with_server(lab_root, "api-e2e") as running:
        yield running


@pytest.mark.parametrize(
    ("bmc", "suffix", "mac"),
    [("redfish", "", "52:54:00:e2:00:01"), ("ipmi", "-ipmi", "52:54:00:e2:00:11")],
    ids=["redfish", "ipmi"],
)
def test_bios_boot_with_a_data_volume(
    lab_and_server: tuple[Lab, Server], lab_root: Path, bmc: str, suffix: str, mac: str
) -> None:
    lab, server = lab_and_server
    machine = lab.add_machine(f"e2e-bios{suffix}", mac, "bios")
    initiator = f"{IQN}:node-bios{suffix}"
    marker = f"IRONBOUND-E2E-BIOS-{secrets.token_hex(3)}"
    boot = export(
        lab,
        lab_root,
        f"bios-boot{suffix}",
        images.build_bios_disk(lab_root / f"bios-boot{suffix}.img", marker),
        initiator,
    )
    data_marker = f"DATA-{secrets.token_hex(3)}"
    data = export(
        lab,
        lab_root,
        f"bios-data{suffix}",
        images.build_data_disk(lab_root / f"bios-data{suffix}.img", data_marker),
        initiator,
        chap=False,
    )
    node = enroll(server, lab, machine, initiator, bmc)
    add_target(server, lab, node, boot, 0)
    add_target(server, lab, node, Volume(data.iqn, "", ""), 1)
    make_available(server, node)
    elapsed = deploy_and_watch(server, machine, node, marker)
    print(f"\nBIOS ({bmc}): deploy API call -> boot marker: {elapsed:.1f} s")
    machine.console.wait_for(rf"DRIVE81={data_marker}", timeout=10)
    shown = server.node(node)
    assert shown["driver_internal_info"]["boot_status"]["status"] == "booting"
    host_url, script = served_script(server, machine)
    targets = {t["boot_index"]: t["uuid"] for t in server.json(f"volume target list --node {node}")}
    events = (
        host_url.replace(
            f"http://127.0.0.1:{server.boot_port}", "http://10.0.2.2:8080"
        ).removesuffix("/script.ipxe")
        + "/events"
    )
    assert script.splitlines() == [
        "#!ipxe",
        f"# Ironbound: node {node} boots from its iSCSI volumes.",
        "# This script is rendered for this node alone and is never stored.",
        f"set initiator-iqn {initiator}",
        f"set username {boot.user}",
        f"set password {boot.password}",
        "clear reverse-username",
        "clear reverse-password",
        f"echo Ironbound: attaching volume {targets[0]} as SAN drive 0x80",
        f"set ironbound-volume {targets[0]}",
        f"sanhook --drive 0x80 iscsi:10.0.2.2::3260:1:{boot.iqn} || goto failed",
        "clear username",
        "clear password",
        "clear reverse-username",
        "clear reverse-password",
        f"echo Ironbound: attaching volume {targets[1]} as SAN drive 0x81",
        f"set ironbound-volume {targets[1]}",
        f"sanhook --drive 0x81 iscsi:10.0.2.2::3260:1:{data.iqn} || goto failed",
        "# A lost connection to the boot volume is re-established with the credentials",
        "# set last, so they must be the boot volume's again.",
        f"set username {boot.user}",
        f"set password {boot.password}",
        "clear reverse-username",
        "clear reverse-password",
        f"imgfetch --name ironbound-report {events}/booting || echo Ironbound: could not report progress",
        "imgfree ironbound-report ||",
        "echo Ironbound: booting from SAN drive 0x80",
        f"set ironbound-volume {targets[0]}",
        "sanboot --no-describe --drive 0x80 || goto failed",
        "",
        ":failed",
        "echo Ironbound: boot from volume failed: ${errno}",
        f"imgfetch --name ironbound-report {events}/failed?errno=${{errno}}&volume=${{ironbound-volume}} || echo Ironbound: could not report the failure",
        "exit 1",
    ]
    # Fetching the script again while active leaves the boot status alone.
    assert server.node(node)["driver_internal_info"]["boot_status"]["status"] == "booting"
    undeploy_and_check(server, machine, node)


def test_uefi_boot_with_mutual_chap(lab_and_server: tuple[Lab, Server], lab_root: Path) -> None:
    lab, server = lab_and_server
    machine = lab.add_machine("e2e-uefi", "52:54:00:e2:00:02", "uefi")
    initiator = f"{IQN}:node-uefi"
    marker = f"IRONBOUND-E2E-UEFI-{secrets.token_hex(3)}"
    image = images.build_uefi_disk(lab_root / "uefi-boot.img", marker)
    volume = Volume(f"{IQN}:uefi-boot", "uefi-user", f"Uefi-Pw-{secrets.token_hex(4)}")
    lab.tgt.add_target(volume.iqn, image, lun=1)
    lab.tgt.allow_initiator(volume.iqn, initiator)
    target_password = f"Tgt-Pw-{secrets.token_hex(4)}"
    lab.tgt.add_chap(
        volume.iqn,
        volume.user,
        volume.password,
        target_username="uefi-tgt",
        target_password=target_password,
    )
    node = enroll(server, lab, machine, initiator)
    mutual = f"--property reverse_auth_username=uefi-tgt --property reverse_auth_password={target_password}"
    add_target(server, lab, node, volume, 0, mutual)
    make_available(server, node)
    elapsed = deploy_and_watch(server, machine, node, marker)
    print(f"\nUEFI: deploy API call -> boot marker: {elapsed:.1f} s")
    # Someone switches the machine off at its BMC: the power state sync notices.
    bmc = sushy.Sushy(lab.redfish_url, auth=BasicAuth(BMC_USER, BMC_PASSWORD))
    bmc.get_system(machine.redfish_system).reset_system(sushy.ResetType.FORCE_OFF)
    deadline = time.monotonic() + 30
    while server.node(node)["power_state"] != "power off":
        assert time.monotonic() < deadline, "the power state sync did not notice the power-off"
        time.sleep(0.5)
    assert server.node(node)["provision_state"] == "active"
    undeploy_and_check(server, machine, node)


def test_wrong_chap_password_fails_the_deploy(
    lab_and_server: tuple[Lab, Server], lab_root: Path
) -> None:
    lab, server = lab_and_server
    machine = lab.add_machine("e2e-chap", "52:54:00:e2:00:03", "bios")
    initiator = f"{IQN}:node-chap"
    volume = export(
        lab,
        lab_root,
        "chap-boot",
        images.build_bios_disk(lab_root / "chap.img", "NEVER-SEEN"),
        initiator,
    )
    node = enroll(server, lab, machine, initiator)
    add_target(server, lab, node, Volume(volume.iqn, volume.user, "Not-The-Right-One"), 0)
    make_available(server, node)
    started = time.monotonic()
    result = server.baremetal(f"node deploy --wait 180 {node}", check=False)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    shown = server.node(node)
    assert shown["provision_state"] == "deploy failed"
    assert "rejected the CHAP login" in str(shown["last_error"])
    assert "deploy failed" in result.stderr and "CHAP" in result.stderr
    assert shown["power_state"] == "power off"
    # The console agrees with what the API says, and the failure surfaced quickly:
    # iPXE gives up in a fraction of a second; the rest is the machine booting.
    assert "Could not open SAN device: Operation not permitted" in machine.serial_log.read_text(
        errors="replace"
    )
    assert elapsed < 60, f"the failure took {elapsed:.0f} s to show"
    print(f"\nwrong CHAP: deploy call -> 'deploy failed' seen by the CLI: {elapsed:.1f} s")
