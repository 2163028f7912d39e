"""End to end, as an operator: Ironbound boots QEMU machines from tgt iSCSI volumes.

Everything is real: `ironbound serve`, the `baremetal` CLI, sushy-tools as the
machines' Redfish BMC over libvirt (virtualbmc as an IPMI BMC for the `ipmi` run), QEMU (TCG) with iPXE in the NIC ROM (BIOS)
or OVMF (UEFI), tgtd with CHAP. The lab keeps all traffic on loopback.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sushy
from sushy.auth import BasicAuth

from ironbound.lab import images
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine
from ironbound.lab.ports import free_tcp_port
from tests.serving import Server, serve

pytestmark = pytest.mark.e2e

BMC_USER, BMC_PASSWORD = "admin", "E2e-Bmc-Pass-7"
IQN = "iqn.2026-11.org.ironbound.e2e"
BOOT_TIMEOUT = 150.0
# The boot server URL the node's iPXE printed while chaining to its script.
SCRIPT_URL = re.compile(r"(http://10\.0\.2\.2:8080/boot/[A-Za-z0-9_-]{43}/script\.ipxe)")


@pytest.fixture(scope="module")
def lab_and_server(lab_root: Path) -> Iterator[tuple[Lab, Server]]:
    with lab_with_server(lab_root, "api-e2e") as running:
        yield running


@contextlib.contextmanager
def lab_with_server(lab_root: Path, name: str) -> Iterator[tuple[Lab, Server]]:
    """A lab with a Redfish BMC, and `ironbound serve` as its boot server, under lab_root/name."""
    boot_port = free_tcp_port()
    with Lab(
        lab_root / name, boot_server_port=boot_port, redfish_auth=(BMC_USER, BMC_PASSWORD)
    ) as lab:
        config = (
            "[deploy]\n"
            f"http_url = {lab.boot_server_url}\n"
            "[conductor]\n"
            "deploy_callback_timeout = 120\n"
            "heartbeat_interval = 1\n"
            "sync_power_state_interval = 1\n"
            "[redfish]\n"
            "power_state_poll_interval = 0.2\n"
            "[ipmi]\n"
            "power_state_poll_interval = 0.2\n"
            # virtualbmc does not answer while libvirt starts or destroys a domain
            "command_retry_timeout = 10\n"
        )
        folder = lab_root / f"{name}-server"
        folder.mkdir()
        with serve(folder, config, boot_port=boot_port) as server:
            yield lab, server


@dataclass
class Volume:
    iqn: str
    user: str
    password: str


def export(
    lab: Lab, workdir: Path, name: str, image: Path, initiator: str, chap: bool = True
) -> Volume:
    """Put `image` on the lab's tgt as LUN 1 of a new target, for `initiator` only."""
    volume = Volume(
        iqn=f"{IQN}:{name}", user=f"{name}-user", password=f"{name}-Pw-{secrets.token_hex(4)}"
    )
    lab.tgt.add_target(volume.iqn, image, lun=1)
    lab.tgt.allow_initiator(volume.iqn, initiator)
    if chap:
        lab.tgt.add_chap(volume.iqn, volume.user, volume.password)
    return volume


def enroll(server: Server, lab: Lab, machine: Machine, initiator: str, bmc: str = "redfish") -> str:
    """The operator's commands from the issue: a redfish (or ipmi) node ready to deploy."""
    if bmc == "ipmi":
        address, port = lab.add_ipmi(machine, (BMC_USER, BMC_PASSWORD))
        driver_info = (
            f"--driver-info ipmi_address={address} --driver-info ipmi_port={port} "
            # pyghmi's BMC, hence virtualbmc, answers in HMAC-SHA1 only (see docs/ipmi.md)
            "--driver-info ipmi_cipher_suite=3 "
        )
    else:
        driver_info = (
            f"--driver-info redfish_address={lab.redfish_url} "
            f"--driver-info redfish_system_id={machine.redfish_system} "
        )
    node = server.json(
        f"node create --driver {bmc} --name {machine.name} {driver_info}"
        f"--driver-info {bmc}_username={BMC_USER} --driver-info {bmc}_password={BMC_PASSWORD}"
    )
    assert node["driver_info"][f"{bmc}_password"] == "******"
    server.baremetal(f"port create {machine.mac} --node {node['uuid']}")
    server.baremetal(
        f"node set {machine.name} --boot-interface ipxe --storage-interface external "
        "--property capabilities=iscsi_boot:True"
    )
    server.baremetal(
        f"volume connector create --node {node['uuid']} --type iqn --connector-id {initiator}"
    )
    return str(node["uuid"])


def add_target(
    server: Server, lab: Lab, node: str, volume: Volume, boot_index: int, extra: str = ""
) -> None:
    chap = (
        f"--property auth_method=CHAP --property auth_username={volume.user} "
        f"--property auth_password={volume.password}"
        if volume.password
        else ""
    )
    server.baremetal(
        f"volume target create --node {node} --type iscsi --boot-index {boot_index} "
        f"--volume-id {volume.iqn.rsplit(':', 1)[1]} --property target_iqn={volume.iqn} "
        f"--property target_portal={lab.portal} --property target_lun=1 {chap} {extra}"
    )


def make_available(server: Server, node: str) -> None:
    server.baremetal(f"node manage --wait 60 {node}")
    server.baremetal(f"node provide --wait 60 {node}")


def wait_for_state(
    server: Server, node: str, state: str, timeout: float = BOOT_TIMEOUT
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = server.node(node)
        if shown["provision_state"] == state and not shown["target_provision_state"]:
            return shown
        if (
            shown["provision_state"] in ("deploy failed", "error")
            and state != shown["provision_state"]
        ):
            raise AssertionError(
                f"node {node} went to {shown['provision_state']}: {shown['last_error']}"
            )
        time.sleep(0.25)
    raise AssertionError(f"node {node} did not reach {state} in {timeout} s: {server.node(node)}")


def deploy_and_watch(
    server: Server, machine: Machine, node: str, marker: str, timeout: float = BOOT_TIMEOUT
) -> float:
    """Deploy and wait for the marker on the console; seconds from the deploy call to it."""
    since = machine.console.offset()
    started = time.monotonic()
    server.baremetal(f"node deploy {node}")
    machine.console.wait_for(
        rf"{re.escape(marker)}",
        timeout=timeout,
        since=since,
        started=started,
        fail_on=[r"^Could not open SAN device", r"Boot from SAN device 0x.. failed", r"failed: "],
    )
    elapsed = time.monotonic() - started
    wait_for_state(server, node, "active", timeout=60)
    return elapsed


def served_script(server: Server, machine: Machine) -> tuple[str, str]:
    """The URL the node's iPXE fetched its script from (host side) and the script now."""
    # The console wraps at 80 columns; join the lines back before searching.
    console = machine.serial_log.read_bytes().decode(errors="replace").replace("\r\n", "")
    script_url = SCRIPT_URL.findall(console)[-1]
    host_url = script_url.replace("http://10.0.2.2:8080", f"http://127.0.0.1:{server.boot_port}")
    response = requests.get(host_url, timeout=10)
    assert response.status_code == 200
    return host_url, response.text


def undeploy_and_check(server: Server, machine: Machine, node: str) -> None:
    """After undeploy the machine is off and its script URL answers 404."""
    host_url, _ = served_script(server, machine)
    server.baremetal(f"node undeploy --wait 120 {node}")
    shown = server.node(node)
    assert (shown["provision_state"], shown["power_state"]) == ("available", "power off")
    assert requests.get(host_url, timeout=10).status_code == 404
    assert server.json(f"volume target list --node {node}") == []


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
        f"sanhook --drive 0x80 iscsi:10.0.2.2::3260:1:{boot.iqn} || goto failed",
        "clear username",
        "clear password",
        "clear reverse-username",
        "clear reverse-password",
        f"echo Ironbound: attaching volume {targets[1]} as SAN drive 0x81",
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
        "sanboot --no-describe --drive 0x80 || goto failed",
        "",
        ":failed",
        "echo Ironbound: boot from volume failed: ${errno}",
        f"imgfetch --name ironbound-report {events}/failed?errno=${{errno}} || echo Ironbound: could not report the failure",
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
