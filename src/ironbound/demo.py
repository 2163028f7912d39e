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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, cast

from ironbound.lab import images
from ironbound.lab.console import clean
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine

BMC_USER = "admin"
INITIATOR = "iqn.2026-11.org.ironbound.demo:node1"
VOLUME_IQN = "iqn.2026-11.org.ironbound.demo:boot-volume"
MAC = "52:54:00:de:30:01"
SHOWN = (
    "Ironbound:",
    "SAN device",
    "iPXE 1.",
    "Filename:",
    "http://",
    "BIOS-DRIVE",
    "IRONBOUND-DEMO",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@contextmanager
def _ironbound(folder: Path, http_url: str, boot_port: int) -> Iterator[str]:
    port = _free_port()
    ini = folder / "ironbound.conf"
    ini.write_text(f"[deploy]\nhttp_url = {http_url}\n[conductor]\ndeploy_callback_timeout = 180\n")
    log = (folder / "ironbound.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ironbound.cli",
            "serve",
            "--config-file",
            str(ini),
            "--state-dir",
            str(folder / "state"),
            "--port",
            str(port),
            "--boot-port",
            str(boot_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"ironbound serve did not start; see {folder / 'ironbound.log'}"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


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

    def run(self, *args: str, show: bool = True) -> str:
        shown = " ".join(args)
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
        return self.run("node", "show", node, "-f", "value", "-c", name, show=False).strip()


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


def run_demo(workdir: Path, firmware: Literal["bios", "uefi"]) -> None:
    narrator = Narrator(steps=8)
    bmc_password = f"Demo-Bmc-{secrets.token_hex(4)}"
    chap_password = f"Demo-Chap-{secrets.token_hex(4)}"
    marker = f"IRONBOUND-DEMO: this machine booted from {VOLUME_IQN} LUN 1"
    boot_port = _free_port()
    narrator.section(
        "Starting the lab: private libvirtd with a QEMU machine, its Redfish BMC "
        "(sushy-tools), a tgt iSCSI target"
    )
    with Lab(
        workdir / "lab", boot_server_port=boot_port, redfish_auth=(BMC_USER, bmc_password)
    ) as lab:
        machine = lab.add_machine("demo-node", MAC, firmware)
        narrator.note(
            f"machine demo-node ({firmware}, MAC {MAC}), powered off, "
            f"BMC {lab.redfish_url}{machine.redfish_system}"
        )
        narrator.section("Building a bootable volume and exporting it over iSCSI with CHAP")
        if firmware == "uefi":
            image = images.build_uefi_disk(workdir / "boot.img", marker)
        else:
            image = images.build_bios_disk(workdir / "boot.img", marker)
        lab.tgt.add_target(VOLUME_IQN, image, lun=1)
        lab.tgt.allow_initiator(VOLUME_IQN, INITIATOR)
        lab.tgt.add_chap(VOLUME_IQN, "demo-node", chap_password)
        narrator.note(
            f"{VOLUME_IQN} LUN 1 at {lab.portal} (as the machine sees it), only for "
            f"initiator {INITIATOR}"
        )
        narrator.section("Starting Ironbound: ironbound serve (API, conductor, boot server)")
        with _ironbound(workdir, lab.boot_server_url, boot_port) as url:
            narrator.note(f"API {url}; machines reach the boot server at {lab.boot_server_url}")
            operator = Operator(url, (bmc_password, chap_password))
            narrator.section("Enrolling the machine, as in Ironic's Boot From Volume guide")
            operator.run(
                "node",
                "create",
                "--driver",
                "redfish",
                "--name",
                "demo-node",
                "--driver-info",
                f"redfish_address={lab.redfish_url}",
                "--driver-info",
                f"redfish_system_id={machine.redfish_system}",
                "--driver-info",
                f"redfish_username={BMC_USER}",
                "--driver-info",
                f"redfish_password={bmc_password}",
                "-f",
                "value",
                "-c",
                "uuid",
            )
            node = "demo-node"
            uuid = operator.field(node, "uuid")
            operator.run("port", "create", MAC, "--node", uuid, "-f", "value", "-c", "uuid")
            operator.run(
                "node",
                "set",
                node,
                "--boot-interface",
                "ipxe",
                "--storage-interface",
                "external",
                "--property",
                "capabilities=iscsi_boot:True",
            )
            operator.run(
                "volume",
                "connector",
                "create",
                "--node",
                uuid,
                "--type",
                "iqn",
                "--connector-id",
                INITIATOR,
                "-f",
                "value",
                "-c",
                "uuid",
            )
            operator.run(
                "volume",
                "target",
                "create",
                "--node",
                uuid,
                "--type",
                "iscsi",
                "--boot-index",
                "0",
                "--volume-id",
                "demo-boot-volume",
                "--property",
                f"target_iqn={VOLUME_IQN}",
                "--property",
                f"target_portal={lab.portal}",
                "--property",
                "target_lun=1",
                "--property",
                "auth_method=CHAP",
                "--property",
                "auth_username=demo-node",
                "--property",
                f"auth_password={chap_password}",
            )
            operator.run("node", "validate", node)
            operator.run("node", "manage", "--wait", "60", node)
            operator.run("node", "provide", "--wait", "60", node)
            narrator.section(
                "Deploying: Ironbound attaches the volume, serves the iPXE script, powers on"
            )
            since = machine.console.offset()
            started = time.monotonic()
            operator.run("node", "deploy", node)
            seconds = _watch_console(machine, since, "IRONBOUND-DEMO", 180)
            narrator.note(
                f"the machine booted from its iSCSI volume {seconds:.1f} s after the deploy call"
            )
            narrator.section("What the API says now")
            deadline = time.monotonic() + 60
            while (
                operator.field(node, "provision_state") != "active" and time.monotonic() < deadline
            ):
                time.sleep(0.5)
            operator.run(
                "node",
                "show",
                node,
                "--fields",
                "provision_state",
                "power_state",
                "driver_internal_info",
                "last_error",
            )
            operator.run("volume", "target", "list", "--node", uuid, "--long")
            narrator.section("Undeploying: power off, boot script revoked, volume targets removed")
            operator.run("node", "undeploy", "--wait", "120", node)
            operator.run("node", "show", node, "--fields", "provision_state", "power_state")
            narrator.note(f"whole deploy cycle: {time.monotonic() - started:.1f} s")
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
