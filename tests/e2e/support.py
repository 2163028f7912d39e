"""What the end-to-end tests share: a lab with `ironbound serve`, and the operator's steps.

Each test module starts its own lab once (a module-scoped fixture around
`lab_and_server`), then enrolls, deploys and watches machines with these helpers.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from ironbound.lab import fileserver, osimage, toolenv
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Firmware, Machine
from ironbound.lab.ports import free_tcp_port
from tests.serving import Server, serve

BMC_USER, BMC_PASSWORD = "admin", "E2e-Bmc-Pass-7"
IQN = "iqn.2026-11.org.ironbound.e2e"
BOOT_TIMEOUT = 150.0
# The boot server URL the node's iPXE printed while chaining to its script.
SCRIPT_URL = re.compile(r"(http://10\.0\.2\.2:8080/boot/[A-Za-z0-9_-]{43}/script\.ipxe)")


@contextmanager
def lab_started(lab_root: Path, name: str) -> Iterator[Lab]:
    """A lab (two portals, a Redfish BMC with a password) whose boot server port is free."""
    with Lab(
        lab_root / name, boot_server_port=free_tcp_port(), redfish_auth=(BMC_USER, BMC_PASSWORD)
    ) as lab:
        yield lab


def server_config(lab: Lab) -> str:
    """`ironbound serve`'s configuration for the lab: quick polls, a bounded boot wait."""
    return (
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


@contextmanager
def lab_with_server(
    lab_root: Path, name: str, extra_config: Callable[[Lab], str] | None = None
) -> Iterator[tuple[Lab, Server]]:
    """A lab and `ironbound serve` for it (plus `extra_config(lab)` in its configuration)."""
    with lab_started(lab_root, name) as lab:
        config = server_config(lab) + (extra_config(lab) if extra_config else "")
        folder = lab_root / f"{name}-server"
        folder.mkdir()
        with serve(folder, config, boot_port=lab.boot_server_port) as server:
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


def new_machine(lab: Lab, name: str, mac: str, firmware: Firmware) -> tuple[Machine, str, str]:
    """A powered-off machine, the initiator IQN for its node and a fresh boot marker."""
    marker = f"IRONBOUND-E2E-{name.upper()}-{secrets.token_hex(3)}"
    return lab.add_machine(name, mac, firmware), f"{IQN}:{name}", marker


def enroll(
    server: Server,
    lab: Lab,
    machine: Machine,
    initiator: str,
    bmc: str = "redfish",
    storage: str = "external",
) -> str:
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
        f"node set {machine.name} --boot-interface ipxe --storage-interface {storage} "
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
    server: Server,
    machine: Machine,
    node: str,
    marker: str,
    timeout: float = BOOT_TIMEOUT,
    options: str = "",
) -> float:
    """Deploy (with `options` to `baremetal node deploy`) and wait for the marker on the
    console; seconds from the deploy call to it."""
    since = machine.console.offset()
    started = time.monotonic()
    server.baremetal(f"node deploy {node}{' ' + options if options else ''}")
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


@dataclass(frozen=True)
class Image:
    url: str
    checksum: str


@contextmanager
def serving_debian_image() -> Iterator[Image]:
    """The cached Debian image (scripts/setup builds it), served over HTTP."""
    path = osimage.debian_image(toolenv.default_cache_dir())
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    with fileserver.serving(path.parent) as base:
        yield Image(f"{base}/{path.name}", checksum)


def managed_config(lab: Lab) -> str:
    """`ironbound serve`'s [managed] for the lab's tgtd."""
    return f"[managed]\ntgt_control_port = {lab.tgt.control_port}\ntarget_portal = {lab.portal}\n"
