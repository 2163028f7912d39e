"""Boot timing: from the deploy API call to the boot marker, against the floor.

The floor is the same machine booting the same scripts with no Ironbound in
the way: a static HTTP server serves the entry script, the MAC chain and the
node script exactly as Ironbound served them, and the machine is powered on
straight through its Redfish BMC. Ironbound's overhead is the difference.

The volume holds a boot marker (a few sectors), or with `--disk linux` the
Debian image for iSCSI root (`ironbound image build`), and the time is then to
Linux userspace with / on the iSCSI disk (the guest's IRONBOUND-USERSPACE line).

    python benchmarks/boot_bench.py [--runs 3] [--firmware bios|uefi] [--disk marker|linux]
"""

from __future__ import annotations

import argparse
import http.server
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import sushy
from sushy.auth import BasicAuth

from ironbound.lab import images, osimage, toolenv
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine
from ironbound.lab.ports import free_tcp_port
from ironbound.lab.serve import ironbound_serve

HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}
USER, PASSWORD = "admin", "Bench-Bmc-Pass-1"
INITIATOR = "iqn.2026-11.org.ironbound.bench:node"
VOLUME = "iqn.2026-11.org.ironbound.bench:boot"
MAC = "52:54:00:be:0c:01"
MARKER = "IRONBOUND-BENCH-MARKER"
LINUX_MARKER = "IRONBOUND-USERSPACE"
CHAP_PASSWORD = "Bench-Chap-Pass-1"


@contextmanager
def static_server(port: int, files: dict[str, str]) -> Iterator[None]:
    """Serves `files` by path; anything under /boot/<token>/events/ answers an empty script."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            if body is None and "/events/" in self.path:
                body = "#!ipxe\n"
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def to_marker(machine: Machine, start: Callable[[], None], marker: str) -> float:
    since = machine.console.offset()
    began = time.monotonic()
    start()
    machine.console.wait_for(marker, timeout=300, since=since)
    return time.monotonic() - began


class IronboundRuns:
    """Deploy/undeploy cycles through the API, keeping what the boot server served."""

    def __init__(self, url: str, boot_port: int) -> None:
        self.url = url
        self.boot = f"http://127.0.0.1:{boot_port}"
        self.api = requests.Session()
        self.api.headers.update(HEADERS)
        self.node = ""
        self.served: dict[str, str] = {}

    def state_is(self, expected: str) -> Callable[[], bool]:
        node_url = f"{self.url}/v1/nodes/{self.node}"
        return lambda: self.api.get(node_url).json()["provision_state"] == expected

    def provision(self, verb: str, expected: str, timeout: float = 120) -> None:
        self.api.put(f"{self.url}/v1/nodes/{self.node}/states/provision", json={"target": verb})
        until(self.state_is(expected), timeout, expected)

    def enroll(self, lab: Lab, machine: Machine) -> None:
        driver_info = {
            "redfish_address": lab.redfish_url,
            "redfish_system_id": machine.redfish_system,
            "redfish_username": USER,
            "redfish_password": PASSWORD,
        }
        body: dict[str, Any] = {
            "driver": "redfish",
            "name": "bench",
            "boot_interface": "ipxe",
            "storage_interface": "external",
            "properties": {"capabilities": "iscsi_boot:True"},
            "driver_info": driver_info,
        }
        self.node = self.api.post(f"{self.url}/v1/nodes", json=body).json()["uuid"]
        self.api.post(f"{self.url}/v1/ports", json={"address": MAC, "node_uuid": self.node})
        connector = {"node_uuid": self.node, "type": "iqn", "connector_id": INITIATOR}
        self.api.post(f"{self.url}/v1/volume/connectors", json=connector)
        self.provision("manage", "manageable")
        self.provision("provide", "available")

    def add_boot_volume(self, portal: str) -> None:
        properties = {
            "target_iqn": VOLUME,
            "target_portal": portal,
            "target_lun": 1,
            "auth_method": "CHAP",
            "auth_username": "bench",
            "auth_password": CHAP_PASSWORD,
        }
        target: dict[str, Any] = {
            "node_uuid": self.node,
            "volume_type": "iscsi",
            "boot_index": 0,
            "volume_id": "v",
            "properties": properties,
        }
        self.api.post(f"{self.url}/v1/volume/targets", json=target)

    def deploy(self) -> None:
        self.api.put(f"{self.url}/v1/nodes/{self.node}/states/provision", json={"target": "active"})

    def keep_scripts(self) -> None:
        """What the boot server serves this node now, path by path."""
        self.served["/boot.ipxe"] = requests.get(f"{self.boot}/boot.ipxe").text
        chain_path = f"/boot/mac/{MAC.replace(':', '-')}"
        self.served[chain_path] = requests.get(self.boot + chain_path).text
        found = re.search(r"/boot/[^/]+/script\.ipxe", self.served[chain_path])
        if found is None:
            raise RuntimeError(f"no script URL in {self.served[chain_path]!r}")
        self.served[found.group(0)] = requests.get(self.boot + found.group(0)).text


def measure(
    lab: Lab, machine: Machine, workdir: Path, boot_port: int, runs: int, marker: str
) -> tuple[list[float], list[float]]:
    """(Ironbound's times, the floor's times) from the start call to the marker."""
    ours: list[float] = []
    config = (
        f"[deploy]\nhttp_url = {lab.boot_server_url}\n[redfish]\npower_state_poll_interval = 0.1\n"
    )
    with ironbound_serve(workdir / "ironbound", config, boot_port=boot_port) as process:
        bench = IronboundRuns(process.url, boot_port)
        bench.enroll(lab, machine)
        for _ in range(runs):
            bench.add_boot_volume(lab.portal)
            ours.append(to_marker(machine, bench.deploy, marker))
            until(bench.state_is("active"), 60, "active")
            bench.keep_scripts()
            bench.provision("deleted", "available")
    floor: list[float] = []
    system = sushy.Sushy(lab.redfish_url, auth=BasicAuth(USER, PASSWORD)).get_system(
        machine.redfish_system
    )
    with static_server(boot_port, bench.served):
        for _ in range(runs):
            power_on = lambda: system.reset_system(sushy.ResetType.ON)  # noqa: E731
            floor.append(to_marker(machine, power_on, marker))
            system.reset_system(sushy.ResetType.FORCE_OFF)
            until(lambda: system.refresh() or system.power_state == sushy.PowerState.OFF, 60, "off")
    return ours, floor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--firmware", choices=["bios", "uefi"], default="bios")
    parser.add_argument("--disk", choices=["marker", "linux"], default="marker")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ib-boot-"))
    boot_port = free_tcp_port()
    with Lab(workdir / "lab", boot_server_port=boot_port, redfish_auth=(USER, PASSWORD)) as lab:
        machine = lab.add_machine("bench", MAC, args.firmware)
        if args.disk == "linux":
            image = osimage.debian_image(toolenv.default_cache_dir())
            disk, marker = osimage.write_raw(image, workdir / "boot.img"), LINUX_MARKER
        else:
            build = images.build_uefi_disk if args.firmware == "uefi" else images.build_bios_disk
            disk, marker = build(workdir / "boot.img", MARKER), MARKER
        lab.tgt.add_target(VOLUME, disk, lun=1)
        lab.tgt.allow_initiator(VOLUME, INITIATOR)
        lab.tgt.add_chap(VOLUME, "bench", CHAP_PASSWORD)
        ours, floor = measure(lab, machine, workdir, boot_port, args.runs, marker)
    mine, base = statistics.median(ours), statistics.median(floor)
    print(f"{args.firmware}, {args.disk} disk: {args.runs} runs each")
    for label, median, times in (
        (f"deploy API call -> {marker} (Ironbound): ", mine, ours),
        (f"Redfish power-on -> {marker} (the floor):", base, floor),
    ):
        print(f"  {label} median {median:.2f} s  {[round(x, 2) for x in times]}")
    print(f"  Ironbound's overhead: {mine - base:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
