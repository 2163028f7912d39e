"""Boot timing: from the deploy API call to the boot marker, against the floor.

The floor is the same machine booting the same scripts with no Ironbound in
the way: a static HTTP server serves the entry script, the MAC chain and the
node script exactly as Ironbound served them, and the machine is powered on
straight through its Redfish BMC. Ironbound's overhead is the difference.

    python benchmarks/boot_bench.py [--runs 3] [--firmware bios|uefi]
"""

from __future__ import annotations

import argparse
import http.server
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import sushy
from sushy.auth import BasicAuth

from ironbound.lab import images
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine

HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}
USER, PASSWORD = "admin", "Bench-Bmc-Pass-1"
INITIATOR = "iqn.2026-11.org.ironbound.bench:node"
VOLUME = "iqn.2026-11.org.ironbound.bench:boot"
MAC = "52:54:00:be:0c:01"
MARKER = "IRONBOUND-BENCH-MARKER"


@contextmanager
def ironbound(folder: Path, http_url: str, boot_port: int, api_port: int) -> Iterator[str]:
    ini = folder / "ironbound.conf"
    ini.write_text(f"[deploy]\nhttp_url = {http_url}\n[redfish]\npower_state_poll_interval = 0.1\n")
    log = (folder / "serve.log").open("wb")
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
            str(api_port),
            "--boot-port",
            str(boot_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{api_port}"
    try:
        for _ in range(600):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        log.close()


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


def to_marker(machine: Machine, start: Callable[[], None]) -> float:
    since = machine.console.offset()
    began = time.monotonic()
    start()
    machine.console.wait_for(MARKER, timeout=180, since=since)
    return time.monotonic() - began


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--firmware", choices=["bios", "uefi"], default="bios")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ib-boot-"))
    boot_port, api_port = free_port(), free_port()
    with Lab(workdir / "lab", boot_server_port=boot_port, redfish_auth=(USER, PASSWORD)) as lab:
        machine = lab.add_machine("bench", MAC, args.firmware)
        build = images.build_uefi_disk if args.firmware == "uefi" else images.build_bios_disk
        lab.tgt.add_target(VOLUME, build(workdir / "boot.img", MARKER), lun=1)
        lab.tgt.allow_initiator(VOLUME, INITIATOR)
        lab.tgt.add_chap(VOLUME, "bench", "Bench-Chap-Pass-1")
        ours: list[float] = []
        served: dict[str, str] = {}
        with ironbound(workdir, lab.boot_server_url, boot_port, api_port) as url:
            api = requests.Session()
            api.headers.update(HEADERS)
            node = api.post(
                f"{url}/v1/nodes",
                json={
                    "driver": "redfish",
                    "name": "bench",
                    "boot_interface": "ipxe",
                    "storage_interface": "external",
                    "properties": {"capabilities": "iscsi_boot:True"},
                    "driver_info": {
                        "redfish_address": lab.redfish_url,
                        "redfish_system_id": machine.redfish_system,
                        "redfish_username": USER,
                        "redfish_password": PASSWORD,
                    },
                },
            ).json()["uuid"]
            api.post(f"{url}/v1/ports", json={"address": MAC, "node_uuid": node})
            api.post(
                f"{url}/v1/volume/connectors",
                json={"node_uuid": node, "type": "iqn", "connector_id": INITIATOR},
            )
            props = {
                "target_iqn": VOLUME,
                "target_portal": lab.portal,
                "target_lun": 1,
                "auth_method": "CHAP",
                "auth_username": "bench",
                "auth_password": "Bench-Chap-Pass-1",
            }

            def state(expected: str) -> Callable[[], bool]:
                return lambda: (
                    api.get(f"{url}/v1/nodes/{node}").json()["provision_state"] == expected
                )

            for verb, expected in (("manage", "manageable"), ("provide", "available")):
                api.put(f"{url}/v1/nodes/{node}/states/provision", json={"target": verb})
                until(state(expected), 60, expected)
            for _ in range(args.runs):
                api.post(
                    f"{url}/v1/volume/targets",
                    json={
                        "node_uuid": node,
                        "volume_type": "iscsi",
                        "boot_index": 0,
                        "volume_id": "v",
                        "properties": props,
                    },
                )
                ours.append(
                    to_marker(
                        machine,
                        lambda: api.put(
                            f"{url}/v1/nodes/{node}/states/provision", json={"target": "active"}
                        ),
                    )
                )
                until(state("active"), 60, "active")
                boot = f"http://127.0.0.1:{boot_port}"
                served["/boot.ipxe"] = requests.get(f"{boot}/boot.ipxe").text
                chain_path = f"/boot/mac/{MAC.replace(':', '-')}"
                served[chain_path] = requests.get(boot + chain_path).text
                found = re.search(r"/boot/[^/]+/script\.ipxe", served[chain_path])
                if found is None:
                    raise RuntimeError(f"no script URL in {served[chain_path]!r}")
                script_path = found.group(0)
                served[script_path] = requests.get(boot + script_path).text
                api.put(f"{url}/v1/nodes/{node}/states/provision", json={"target": "deleted"})
                until(state("available"), 120, "available")
        floor: list[float] = []
        bmc = sushy.Sushy(lab.redfish_url, auth=BasicAuth(USER, PASSWORD))
        system = bmc.get_system(machine.redfish_system)
        with static_server(boot_port, served):
            for _ in range(args.runs):
                floor.append(to_marker(machine, lambda: system.reset_system(sushy.ResetType.ON)))
                system.reset_system(sushy.ResetType.FORCE_OFF)
                until(
                    lambda: system.refresh() or system.power_state == sushy.PowerState.OFF,
                    60,
                    "off",
                )
    mine, base = statistics.median(ours), statistics.median(floor)
    print(f"{args.firmware}: {args.runs} runs each")
    for label, median, runs in (
        ("deploy API call -> boot marker (Ironbound): ", mine, ours),
        ("Redfish power-on -> boot marker (the floor):", base, floor),
    ):
        print(f"  {label} median {median:.2f} s  {[round(x, 2) for x in runs]}")
    print(f"  Ironbound's overhead: {mine - base:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
