"""`ironbound demo`: a virtual server boots from an iSCSI volume through Ironbound.

It starts the lab (a QEMU machine with a Redfish BMC, a tgt iSCSI target
with CHAP), builds a bootable volume, starts `ironbound serve`, and then does
what an operator does with the real `baremetal` CLI: enroll the machine,
describe its initiator and boot volume, deploy, watch it boot from the
volume, undeploy. Every command is printed with its output.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from ironbound.lab import images
from ironbound.lab.console import clean
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine
from ironbound.lab.ports import free_tcp_port
from ironbound.lab.serve import ironbound_serve

BMC_USER = "admin"
INITIATOR = "iqn.2026-11.org.ironbound.demo:node1"
VOLUME_IQN = "iqn.2026-11.org.ironbound.demo:boot-volume"
MAC = "52:54:00:de:30:01"
NODE = "demo-node"
MARKER = "IRONBOUND-DEMO"
SHOWN = (
    "Ironbound:",
    "SAN device",
    "iPXE 1.",
    "Filename:",
    "http://",
    "BIOS-DRIVE",
    MARKER,
)


class Narrator:
    """Prints what the demo is doing, step by step, with elapsed time."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.step = 0
        self.started = time.monotonic()

    def section(self, text: str) -> None:
        self.step += 1
        print(
            f"\n[{self.step}/{self.steps}] {text}  (t={time.monotonic() - self.started:.1f} s)",
            flush=True,
        )

    def note(self, text: str) -> None:
        print(f"    {text}", flush=True)


class Operator:
    """Runs `baremetal` commands the way a person would, and shows them."""

    def __init__(self, url: str, secret_words: tuple[str, ...]) -> None:
        self.env = {
            **os.environ,
            "OS_ENDPOINT": url,
            "OS_AUTH_TYPE": "none",
            "OS_BAREMETAL_API_VERSION": "latest",
        }
        found = shutil.which(
            "baremetal", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        )
        if found is None:
            raise RuntimeError(
                "the baremetal CLI is not installed: pip install python-ironicclient"
            )
        self.baremetal = found
        self.secret_words = secret_words

    def run(self, command: str, show: bool = True) -> str:
        """Run `baremetal COMMAND` (split like a shell would; values hold no spaces)."""
        args = shlex.split(command)
        shown = command
        for word in self.secret_words:
            shown = shown.replace(word, "******")
        if show:
            print(f"  $ baremetal {shown}", flush=True)
        result = subprocess.run(
            [self.baremetal, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = (result.stdout + result.stderr).rstrip()
        if show and output:
            print("\n".join(f"    {line}" for line in output.splitlines()), flush=True)
        if result.returncode != 0:
            raise RuntimeError(f"baremetal {shown} failed (exit {result.returncode})")
        return result.stdout

    def field(self, node: str, name: str) -> str:
        return self.run(f"node show {node} -f value -c {name}", show=False).strip()


def _watch_console(machine: Machine, since: int, marker: str, timeout: float) -> float:
    """Show the interesting console lines until the marker; seconds waited."""
    started = time.monotonic()
    offset, pending = since, ""
    while time.monotonic() - started < timeout:
        with machine.serial_log.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        offset += len(chunk)
        pending += clean(chunk.decode(errors="replace"))
        *lines, pending = pending.replace("\r", "").split("\n")
        for line in lines:
            if any(word in line for word in SHOWN):
                print(f"    console | {line.strip()}", flush=True)
            if marker in line:
                return time.monotonic() - started
        time.sleep(0.1)
    raise RuntimeError(f"the machine did not print {marker} within {timeout:.0f} s")


@dataclass(frozen=True)
class Secrets:
    bmc_password: str
    chap_password: str


def _export_volume(lab: Lab, workdir: Path, firmware: str, secrets_: Secrets) -> None:
    marker = f"{MARKER}: this machine booted from {VOLUME_IQN} LUN 1"
    if firmware == "uefi":
        image = images.build_uefi_disk(workdir / "boot.img", marker)
    else:
        image = images.build_bios_disk(workdir / "boot.img", marker)
    lab.tgt.add_target(VOLUME_IQN, image, lun=1)
    lab.tgt.allow_initiator(VOLUME_IQN, INITIATOR)
    lab.tgt.add_chap(VOLUME_IQN, "demo-node", secrets_.chap_password)


def _enroll(operator: Operator, lab: Lab, machine: Machine, secrets_: Secrets) -> str:
    """The admin guide's commands for the external storage path; the node's UUID."""
    operator.run(
        f"node create --driver redfish --name {NODE} "
        f"--driver-info redfish_address={lab.redfish_url} "
        f"--driver-info redfish_system_id={machine.redfish_system} "
        f"--driver-info redfish_username={BMC_USER} "
        f"--driver-info redfish_password={secrets_.bmc_password} -f value -c uuid"
    )
    uuid = operator.field(NODE, "uuid")
    operator.run(f"port create {MAC} --node {uuid} -f value -c uuid")
    operator.run(
        f"node set {NODE} --boot-interface ipxe --storage-interface external "
        "--property capabilities=iscsi_boot:True"
    )
    operator.run(
        f"volume connector create --node {uuid} --type iqn --connector-id {INITIATOR} "
        "-f value -c uuid"
    )
    operator.run(
        f"volume target create --node {uuid} --type iscsi --boot-index 0 "
        f"--volume-id demo-boot-volume --property target_iqn={VOLUME_IQN} "
        f"--property target_portal={lab.portal} --property target_lun=1 "
        "--property auth_method=CHAP --property auth_username=demo-node "
        f"--property auth_password={secrets_.chap_password}"
    )
    operator.run(f"node validate {NODE}")
    operator.run(f"node manage --wait 60 {NODE}")
    operator.run(f"node provide --wait 60 {NODE}")
    return uuid


def _deploy_cycle(narrator: Narrator, operator: Operator, machine: Machine, uuid: str) -> None:
    narrator.section("Deploying: Ironbound attaches the volume, serves the script, powers on")
    since = machine.console.offset()
    started = time.monotonic()
    operator.run(f"node deploy {NODE}")
    seconds = _watch_console(machine, since, MARKER, 180)
    narrator.note(f"the machine booted from its iSCSI volume {seconds:.1f} s after the deploy")
    narrator.section("What the API says now")
    deadline = time.monotonic() + 60
    while operator.field(NODE, "provision_state") != "active":
        if time.monotonic() > deadline:
            raise RuntimeError("the node did not become active")
        time.sleep(0.5)
    fields = "provision_state power_state driver_internal_info last_error"
    operator.run(f"node show {NODE} --fields {fields}")
    operator.run(f"volume target list --node {uuid} --long")
    narrator.section("Undeploying: power off, boot script revoked, volume targets removed")
    operator.run(f"node undeploy --wait 120 {NODE}")
    operator.run(f"node show {NODE} --fields provision_state power_state")
    narrator.note(f"whole deploy cycle: {time.monotonic() - started:.1f} s")


def run_demo(workdir: Path, firmware: Literal["bios", "uefi"]) -> None:
    narrator = Narrator(steps=8)
    secrets_ = Secrets(f"Demo-Bmc-{secrets.token_hex(4)}", f"Demo-Chap-{secrets.token_hex(4)}")
    boot_port = free_tcp_port()
    narrator.section(
        "Starting the lab: private libvirtd with a QEMU machine, its Redfish BMC "
        "(sushy-tools), a tgt iSCSI target"
    )
    auth = (BMC_USER, secrets_.bmc_password)
    with Lab(workdir / "lab", boot_server_port=boot_port, redfish_auth=auth) as lab:
        machine = lab.add_machine(NODE, MAC, firmware)
        narrator.note(f"machine {NODE} ({firmware}, MAC {MAC}), powered off")
        narrator.note(f"its BMC: {lab.redfish_url}{machine.redfish_system}")
        narrator.section("Building a bootable volume and exporting it over iSCSI with CHAP")
        _export_volume(lab, workdir, firmware, secrets_)
        narrator.note(f"{VOLUME_IQN} LUN 1 at {lab.portal} (as the machine sees it)")
        narrator.note(f"only initiator {INITIATOR} may log in")
        narrator.section("Starting Ironbound: ironbound serve (API, conductor, boot server)")
        config = (
            f"[deploy]\nhttp_url = {lab.boot_server_url}\n"
            "[conductor]\ndeploy_callback_timeout = 180\n"
        )
        with ironbound_serve(workdir / "ironbound", config, boot_port=boot_port) as served:
            narrator.note(f"API {served.url}; the machine reaches its boot server at")
            narrator.note(f"{lab.boot_server_url}")
            operator = Operator(served.url, (secrets_.bmc_password, secrets_.chap_password))
            narrator.section("Enrolling the machine, as in Ironic's Boot From Volume guide")
            uuid = _enroll(operator, lab, machine, secrets_)
            _deploy_cycle(narrator, operator, machine, uuid)
    narrator.section("Stopped Ironbound and the lab; nothing is left running")


def demo_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ironbound demo", description=__doc__.splitlines()[0])
    parser.add_argument("--firmware", choices=["bios", "uefi"], default="bios")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, images)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ironbound-demo-"))
    try:
        run_demo(workdir, cast(Literal["bios", "uefi"], args.firmware))
    except (RuntimeError, OSError) as exc:
        print(f"\ndemo failed: {exc}\nlogs are in {workdir}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\nDone: a virtual server booted from an iSCSI volume through Ironbound.")
    return 0
