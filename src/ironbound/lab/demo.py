"""`ironbound demo`: a real Linux boots with its root on an iSCSI volume Ironbound made.

It starts the lab (a QEMU machine with a Redfish BMC, a tgt iSCSI target),
serves the Debian image built for iSCSI root (`ironbound image build`, cached)
over HTTP, starts `ironbound serve` with its defaults plus the `[managed]`
settings for the lab's tgtd, and then does what an operator does with the
real `baremetal` CLI: enroll the machine with the `managed` storage
interface, give it the image, and deploy with a config drive. Ironbound
creates the volume, writes the image onto it, exports the config drive beside
it and boots the machine, whose console shows Linux mounting `/` from the
iSCSI disk and cloud-init taking the host name and running the user data
from the drive; the node is active once the system confirms its boot. The
first boot writes a file on the volume; the demo undeploys keeping the
volume, deploys again (no config drive, active after the settle time), and
the second boot shows the file is still there. Every step prints its timing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import requests

from ironbound.lab import fileserver, osimage, toolenv
from ironbound.lab.console import clean
from ironbound.lab.environment import Lab
from ironbound.lab.errors import LabError
from ironbound.lab.machines import Machine
from ironbound.lab.ports import free_tcp_port
from ironbound.lab.serve import ironbound_serve

BMC_USER = "admin"
INITIATOR = "iqn.2026-12.org.ironbound.demo:node1"
MAC = "52:54:00:de:30:01"
NODE = "demo-node"
ROOT_GB = 2
#: What the config drive gives the machine, and the line its user data prints.
HOSTNAME = "demo-node-from-config-drive"
MARKER = "user-data-ran"
CONFIG_DRIVE_LINE = "IRONBOUND-CONFIG-DRIVE"
#: Console lines worth showing, in the order a boot prints them.
SHOWN = re.compile(
    r"iPXE 1\.|Ironbound:|SAN device|IRONBOUND-(SYSLINUX|GRUB)|Linux version|"
    r"iscsistart|scsi \d+:\d+:\d+:\d+: Direct-Access|EXT4-fs \(sd|Welcome to|IRONBOUND-"
)
FAIL_ON = re.compile(
    r"Could not open SAN device|Kernel panic|ALERT! |Gave up waiting for root|"
    r"Boot from SAN device 0x.. failed"
)
API_HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}


class DemoFailed(RuntimeError):
    """A step did not happen; the demo exits non-zero with this message."""


class Narrator:
    """Prints what the demo is doing, step by step, and keeps each step's time."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.step = 0
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def section(self, text: str, timing: str | None = None) -> None:
        self._close()
        self.step += 1
        now = time.monotonic()
        print(f"\n[{self.step}/{self.steps}] {text}  (t={now - self.started:.1f} s)", flush=True)
        if timing is not None:
            self._current = (timing, now)

    def _close(self) -> None:
        if self._current is not None:
            name, since = self._current
            self.timings[name] = time.monotonic() - since
            self._current = None

    def note(self, text: str) -> None:
        print(f"    {text}", flush=True)

    def summary(self) -> None:
        self._close()
        print("\nSummary", flush=True)
        for name, seconds in self.timings.items():
            print(f"    {name:58s} {seconds:7.1f} s", flush=True)
        print(f"    {'total':58s} {time.monotonic() - self.started:7.1f} s", flush=True)


class Operator:
    """Runs `baremetal` commands the way a person would, and shows them."""

    def __init__(self, url: str, secret_words: tuple[str, ...]) -> None:
        self.url = url
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
            raise DemoFailed("the baremetal CLI is not installed: pip install python-ironicclient")
        self.baremetal = found
        self.secret_words = secret_words

    def run(self, command: str, show: bool = True) -> str:
        """Run `baremetal COMMAND` (split like a shell would; values hold no spaces)."""
        shown = command
        for word in self.secret_words:
            shown = shown.replace(word, "******")
        if show:
            print(f"  $ baremetal {shown}", flush=True)
        result = subprocess.run(
            [self.baremetal, *shlex.split(command)],
            env=self.env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        output = (result.stdout + result.stderr).rstrip()
        if show and output:
            print("\n".join(f"    {line}" for line in output.splitlines()), flush=True)
        if result.returncode != 0:
            raise DemoFailed(f"baremetal {shown} failed (exit {result.returncode})")
        return result.stdout

    def node(self) -> dict[str, Any]:
        """The node as the API shows it (for polling, without printing)."""
        found: dict[str, Any] = requests.get(
            f"{self.url}/v1/nodes/{NODE}", headers=API_HEADERS, timeout=10
        ).json()
        return found

    def managed_volumes(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = requests.get(
            f"{self.url}/v1/volume/managed?detail=True", headers=API_HEADERS, timeout=10
        ).json()["volumes"]
        return found


@dataclass
class Boot:
    """What the guest said about itself on its console, and when the node went active."""

    deployed_at: float
    lines: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    active_after: float = 0.0


def _watch(
    machine: Machine,
    operator: Operator,
    since: int,
    timeout: float,
    boot: Boot,
    until: str = "IRONBOUND-USERSPACE",
) -> None:
    """Show deploy progress and the interesting console lines until the line `until`
    (Linux in userspace, or what the config drive's user data prints), noting in `boot`
    what the guest said and when the node first showed active."""
    started = time.monotonic()
    offset, pending, progress = since, "", ""
    while time.monotonic() - started < timeout:
        node = operator.node()
        seen = str(node.get("driver_internal_info", {}).get("progress", ""))
        if seen and seen != progress:
            progress = seen
            print(f"    ironbound | {seen.partition(' ')[2]}", flush=True)
        if node.get("provision_state") == "deploy failed":
            raise DemoFailed(f"the deploy failed: {node.get('last_error')}")
        if node.get("provision_state") == "active" and not boot.active_after:
            boot.active_after = time.monotonic() - boot.deployed_at
            print(f"    ironbound | the node is active: {boot.active_after:.1f} s", flush=True)
        try:
            with machine.serial_log.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:  # the machine has not started yet
            chunk = b""
        offset += len(chunk)
        pending += clean(chunk.decode(errors="replace"))
        *lines, pending = pending.replace("\r", "").split("\n")
        for raw in lines:
            line = raw.strip()
            if FAIL_ON.search(line):
                raise DemoFailed(f"the boot failed: {line}")
            if SHOWN.search(line):
                print(f"    console   | {line[:110]}", flush=True)
            marker = re.match(r"(IRONBOUND-[A-Z-]+) (.*)", line)
            if marker:
                boot.lines[marker.group(1)] = marker.group(2)
            if line.startswith(until):
                boot.seconds = time.monotonic() - boot.deployed_at
                return
        time.sleep(0.25)
    raise DemoFailed(f"the console showed no {until} within {timeout:.0f} s")


def _enroll(operator: Operator, lab: Lab, machine: Machine, bmc_password: str) -> None:
    """The admin guide's enrolment, with the managed interface (no volume target: the
    deploy creates it)."""
    operator.run(
        f"node create --driver redfish --name {NODE} "
        f"--driver-info redfish_address={lab.redfish_url} "
        f"--driver-info redfish_system_id={machine.redfish_system} "
        f"--driver-info redfish_username={BMC_USER} "
        f"--driver-info redfish_password={bmc_password} -f value -c uuid"
    )
    uuid = operator.run(f"node show {NODE} -f value -c uuid", show=False).strip()
    operator.run(f"port create {MAC} --node {uuid} -f value -c uuid")
    operator.run(
        f"node set {NODE} --boot-interface ipxe --storage-interface managed "
        "--property capabilities=iscsi_boot:True"
    )
    operator.run(
        f"volume connector create --node {uuid} --type iqn --connector-id {INITIATOR} "
        "-f value -c uuid"
    )


def _check_identity(boot: Boot) -> None:
    """The config drive's user data ran on the machine it named."""
    shown = boot.lines.get(CONFIG_DRIVE_LINE, "")
    if shown != f"host={HOSTNAME} marker={MARKER}":
        raise DemoFailed(f"the config drive did not reach the machine: {shown!r}")


def _check_boot(boot: Boot, count: int, first_boot: str | None) -> str:
    """The guest's own report: / on an iSCSI disk, a session, the boot count; first-boot."""
    root = boot.lines.get("IRONBOUND-ROOT", "")
    if not re.search(r"source=/dev/sd[a-z]\d+ fstype=ext4 iscsi=session\d+", root):
        raise DemoFailed(f"/ is not on an iSCSI disk: IRONBOUND-ROOT {root!r}")
    if "none" in boot.lines.get("IRONBOUND-ISCSI-SESSION", "none"):
        raise DemoFailed("the OS holds no iSCSI session")
    counted = re.search(r"n=(\d+) first-boot=(\S+)", boot.lines.get("IRONBOUND-BOOT-COUNT", ""))
    if counted is None or int(counted.group(1)) != count:
        raise DemoFailed(f"expected boot {count} of this volume, the guest said {counted}")
    if first_boot is not None and counted.group(2) != first_boot:
        raise DemoFailed(
            f"the file the first boot wrote changed: {counted.group(2)} != {first_boot}"
        )
    return counted.group(2)


def _deploy(
    narrator: Narrator, operator: Operator, machine: Machine, timeout: float, drive: Path | None
) -> Boot:
    """Deploy (with the config drive folder `drive`, if given) and watch Linux boot; with a
    drive, also the user data's marker. Then wait for `active` and say when it came."""
    since = machine.console.offset()
    boot = Boot(deployed_at=time.monotonic())
    operator.run(f"node deploy {NODE}" + (f" --config-drive {drive}" if drive else ""))
    _watch(machine, operator, since, timeout, boot)
    narrator.note(f"Linux reached userspace {boot.seconds:.1f} s after the deploy call")
    if drive is not None:
        _watch(machine, operator, machine.console.offset(), timeout, boot, CONFIG_DRIVE_LINE)
        narrator.note(f"cloud-init ran the user data {boot.seconds:.1f} s after the deploy call")
    deadline = time.monotonic() + 300
    while not boot.active_after:
        if time.monotonic() > deadline:
            raise DemoFailed("the node did not become active")
        if operator.node()["provision_state"] == "active":
            boot.active_after = time.monotonic() - boot.deployed_at
        time.sleep(0.25)
    status = operator.node()["driver_internal_info"].get("boot_status", {}).get("status")
    narrator.note(f"active {boot.active_after:.1f} s after the deploy call (boot_status {status})")
    return boot


def _config_drive(folder: Path) -> Path:
    """A config drive's files, laid out as the CLI takes them: the machine's new host name,
    and user data that prints it (and a marker) on the console."""
    latest = folder / "openstack" / "latest"
    latest.mkdir(parents=True, exist_ok=True)
    (latest / "meta_data.json").write_text(json.dumps({"uuid": NODE, "hostname": HOSTNAME}))
    (latest / "user_data").write_text(
        "#cloud-config\nruncmd:\n"
        f"  - [sh, -c, 'echo {CONFIG_DRIVE_LINE} host=$(hostname) marker={MARKER} > /dev/ttyS0']\n"
    )
    return folder


def _wait_for_ctrl_c(lab: Lab, url: str, machine: Machine) -> None:
    print(
        "\nEverything stays up (--keep). In another shell:\n"
        f"    export OS_ENDPOINT={url} OS_AUTH_TYPE=none OS_BAREMETAL_API_VERSION=latest\n"
        f"    .venv/bin/baremetal node show {NODE}\n"
        f"    curl -s -H 'X-OpenStack-Ironic-API-Version: latest' {url}/v1/volume/managed\n"
        f"    tail -f {machine.serial_log}    # the machine's console\n"
        f"    its BMC: {lab.redfish_url}{machine.redfish_system}\n"
        "Press Ctrl-C to stop everything.",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *args: stop.set())
    signal.signal(signal.SIGTERM, lambda *args: stop.set())
    stop.wait()


@dataclass(frozen=True)
class Scene:
    """What the operator works with once the lab and Ironbound run."""

    lab: Lab
    machine: Machine
    operator: Operator
    image_url: str
    checksum: str
    boot_timeout: float
    drive_folder: Path


def _life_cycle(narrator: Narrator, scene: Scene, keep: bool) -> None:
    """Deploy (volume made, image written, Linux boots), keep, redeploy, delete."""
    operator, machine = scene.operator, scene.machine
    operator.run(
        f"node set {NODE} --instance-info image_source={scene.image_url} "
        f"--instance-info image_checksum=sha256:{scene.checksum} "
        f"--instance-info root_gb={ROOT_GB} --instance-info keep_boot_volume=true "
        "--instance-info boot_confirmation=os"
    )
    operator.run(f"node validate {NODE}")
    operator.run(f"node manage --wait 60 {NODE}")
    operator.run(f"node provide --wait 60 {NODE}")
    narrator.section(
        "Deploying with a config drive: Ironbound creates the volume, writes the image, "
        "boots the machine; active once the system confirms",
        "deploy -> active, confirmed by the system (image written)",
    )
    drive = _config_drive(scene.drive_folder)
    boot = _deploy(narrator, operator, machine, scene.boot_timeout, drive)
    narrator.timings["  deploy call -> active (the system confirmed)"] = boot.active_after
    first = _check_boot(boot, 1, None)
    _check_identity(boot)
    narrator.note(f"/ is on the iSCSI disk; the first boot wrote first-boot={first}")
    narrator.note(f"the machine is {HOSTNAME}, from its config drive, and ran its user data")
    operator.run(f"volume target list --node {NODE} --long")
    volume = operator.managed_volumes()[0]
    size = volume["size_bytes"] / 2**30
    narrator.note(f"managed volume {volume['uuid']}: {volume['state']}, {size:.0f} GiB")
    narrator.note(f"it holds image {volume['image']}")
    narrator.section("Undeploying, keeping the volume", "undeploy (keep)")
    operator.run(f"node undeploy --wait 120 {NODE}")
    kept = operator.managed_volumes()[0]
    if kept["state"] != "kept" or kept["uuid"] != volume["uuid"]:
        raise DemoFailed(f"the volume was not kept: {kept}")
    narrator.note(f"managed volume {kept['uuid']}: {kept['state']} for {NODE}")
    narrator.section(
        "Deploying again onto the kept volume, no config drive, active after the settle "
        "time: no rewrite, the data is still there",
        "redeploy -> active, after the settle (kept volume)",
    )
    operator.run(f"node set {NODE} --instance-info boot_confirmation=settle")
    again = _deploy(narrator, operator, machine, scene.boot_timeout, None)
    narrator.timings["  deploy call -> active (the settle after the handover)"] = again.active_after
    _check_boot(again, 2, first)
    narrator.note(f"boot 2 of this volume; first-boot={first} survived the redeploy")
    if keep:
        narrator.summary()
        _wait_for_ctrl_c(scene.lab, operator.url, machine)
    narrator.section("Undeploying and deleting the volume", "undeploy (delete)")
    operator.run(f"node set {NODE} --instance-info keep_boot_volume=false")
    operator.run(f"node undeploy --wait 120 {NODE}")
    if operator.managed_volumes():
        raise DemoFailed("the volume was not deleted")
    narrator.note("no managed volume left")


def run_demo(workdir: Path, firmware: Literal["bios", "uefi"], keep: bool) -> None:
    narrator = Narrator(steps=10)
    bmc_password = f"Demo-Bmc-{secrets.token_hex(4)}"
    narrator.section("The OS image: Debian 12 built for an iSCSI root", "image (cached)")
    started = time.monotonic()
    image = osimage.debian_image(toolenv.default_cache_dir())
    checksum = hashlib.sha256(image.read_bytes()).hexdigest()
    narrator.note(f"{image.name}: {image.stat().st_size / 2**20:.0f} MiB qcow2, ready in "
                  f"{time.monotonic() - started:.1f} s (a first build takes minutes)")  # fmt: skip
    narrator.section(
        "Starting the lab: a QEMU machine, its Redfish BMC (sushy-tools), a tgt iSCSI target",
        "lab start",
    )
    auth = (BMC_USER, bmc_password)
    boot_port = free_tcp_port()
    with Lab(workdir / "lab", boot_server_port=boot_port, redfish_auth=auth) as lab, \
            fileserver.serving(image.parent) as base:  # fmt: skip
        image_url = f"{base}/{image.name}"
        machine = lab.add_machine(NODE, MAC, firmware)
        narrator.note(f"machine {NODE} ({firmware}, MAC {MAC}), powered off")
        narrator.note(f"tgtd for Ironbound's volumes; nodes reach it at {lab.portal}")
        narrator.note(f"the image server: {image_url}")
        narrator.section("Starting Ironbound: ironbound serve, defaults + [managed]", "serve")
        config = (
            f"[deploy]\nhttp_url = {lab.boot_server_url}\n"
            "[conductor]\ndeploy_callback_timeout = 600\n"
            f"[managed]\ntgt_control_port = {lab.tgt.control_port}\n"
            f"target_portal = {lab.portal}\n"
        )
        with ironbound_serve(workdir / "ironbound", config, boot_port=boot_port) as served:
            narrator.note(f"API {served.url}; boot server for the machine: {lab.boot_server_url}")
            operator = Operator(served.url, (bmc_password,))
            narrator.section("Enrolling the machine with the managed storage interface", "enroll")
            _enroll(operator, lab, machine, bmc_password)
            timeout = 600.0 if firmware == "uefi" else 300.0
            scene = Scene(
                lab, machine, operator, image_url, checksum, timeout, workdir / "config-drive"
            )
            _life_cycle(narrator, scene, keep)
            narrator.section("Stopping Ironbound and the lab")
    narrator.section("Stopped; nothing is left running")
    narrator.summary()


def demo_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ironbound demo", description=__doc__.splitlines()[0])
    parser.add_argument("--firmware", choices=["bios", "uefi"], default="bios")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the redeploy, leave the lab and Ironbound up (Ctrl-C stops them) and "
        "keep the work folder (logs, volumes)",
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ironbound-demo-"))
    try:
        run_demo(workdir, cast(Literal["bios", "uefi"], args.firmware), args.keep)
    except (DemoFailed, LabError, OSError, requests.RequestException) as exc:
        print(f"\ndemo failed: {exc}\nlogs are in {workdir}", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        "\nDone: Debian booted from an iSCSI volume Ironbound created and wrote, took its "
        "identity from its config drive, and booted again from the kept volume."
    )
    return 0
