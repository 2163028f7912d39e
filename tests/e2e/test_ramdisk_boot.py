"""End to end: the ramdisk deploy interface boots a diskless QEMU machine over HTTP.

The machine (BIOS, Redfish BMC) has no boot volume, one iSCSI data volume on
the lab's tgt, and instance_info kernel (Debian's) and ramdisk (a busybox
initramfs built here) served by an HTTP server on the host, which the guest
reaches through a lab bridge. Its iPXE hooks the data volume, so the iBFT
describes it, then boots the kernel; the initramfs prints the iBFT's target.
The deploy carries a config drive (the ISO the `baremetal` CLI builds from a
folder), so the kernel command line names the node's NoCloud seed: the
initramfs fetches meta-data and user-data from the boot server as cloud-init
would, and prints the host name and the user data's marker.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ironbound.lab import images, netboot
from ironbound.lab.environment import Lab
from tests.e2e.support import (
    IQN,
    Volume,
    add_target,
    deploy_and_watch,
    enroll,
    export,
    lab_with_server,
    make_available,
    served_script,
    undeploy_and_check,
)
from tests.serving import Server

pytestmark = pytest.mark.e2e

GUEST_HTTP_PORT = 8081
#: iPXE fetches an 8 MB kernel through slirp and a bridge, then Linux boots under TCG.
RAMDISK_BOOT_TIMEOUT = 300.0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def lab_and_server(lab_root: Path) -> Iterator[tuple[Lab, Server]]:
    with lab_with_server(lab_root, "ramdisk-e2e") as running:
        yield running


@pytest.fixture
def http_folder(lab_and_server: tuple[Lab, Server], lab_root: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on the host; yields it and its URL as guests see it."""
    lab, _ = lab_and_server
    folder = lab_root / "ramdisk-http"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        guest = lab.forward("ramdisk-http", GUEST_HTTP_PORT, httpd.server_address[1])
        yield folder, f"http://{guest}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def test_diskless_bios_node_boots_kernel_and_ramdisk_with_its_data_volume_in_the_ibft(
    lab_and_server: tuple[Lab, Server], lab_root: Path, http_folder: tuple[Path, str]
) -> None:
    lab, server = lab_and_server
    folder, base_url = http_folder
    kernel = netboot.debian_kernel(lab.cache_dir)
    (folder / "vmlinuz").write_bytes(kernel.vmlinuz.read_bytes())
    marker = f"IRONBOUND-E2E-RAMDISK-{secrets.token_hex(3)}"
    netboot.build_ibft_initramfs(folder / "initrd.gz", marker, kernel)

    machine = lab.add_machine("e2e-ramdisk", "52:54:00:e2:00:04", "bios")
    initiator = f"{IQN}:node-ramdisk"
    data = export(
        lab,
        lab_root,
        "ramdisk-data",
        images.build_data_disk(lab_root / "ramdisk-data.img", "RAMDISK-DATA"),
        initiator,
        chap=False,
    )
    hostname, seed_marker = "e2e-diskless", f"IRONBOUND-E2E-SEED-{secrets.token_hex(3)}"
    latest = lab_root / "ramdisk-drive" / "openstack" / "latest"
    latest.mkdir(parents=True)
    (latest / "meta_data.json").write_text(json.dumps({"hostname": hostname}))
    (latest / "user_data").write_text(f"#cloud-config\nruncmd: [[echo, {seed_marker}]]\n")
    node = enroll(server, lab, machine, initiator)
    server.baremetal(
        f"node set {node} --deploy-interface ramdisk "
        f"--instance-info kernel={base_url}/vmlinuz --instance-info ramdisk={base_url}/initrd.gz "
        "--instance-info 'kernel_append_params=console=ttyS0 quiet'"
    )
    # A data volume only: boot_index 0 would make it the boot volume.
    add_target(server, lab, node, Volume(data.iqn, "", ""), 1)
    make_available(server, node)
    since = machine.console.offset()
    elapsed = deploy_and_watch(
        server,
        machine,
        node,
        marker,
        timeout=RAMDISK_BOOT_TIMEOUT,
        options=f"--config-drive {latest.parent.parent}",
    )
    print(f"\nramdisk: deploy API call -> initramfs marker: {elapsed:.1f} s")
    for line in (
        netboot.IBFT_TARGET + data.iqn,
        netboot.SEED_HOSTNAME + hostname,
        f"{netboot.SEED_USER_DATA}runcmd: [[echo, {seed_marker}]]",
    ):
        machine.console.wait_for(rf"^{re.escape(line)}\s*$", timeout=10, since=since)
    shown = server.node(node)
    assert shown["driver_internal_info"]["boot_status"]["status"] == "booting"
    script_url, script = served_script(server, machine)
    lines = script.splitlines()
    assert f"sanhook --drive 0x80 iscsi:10.0.2.2::3260:1:{data.iqn} || goto failed" in lines
    seed = script_url.removesuffix("script.ipxe").replace(
        f"http://127.0.0.1:{server.boot_port}", "http://10.0.2.2:8080"
    )
    assert (
        f"kernel {base_url}/vmlinuz initrd=ramdisk console=ttyS0 quiet "
        f"ds=nocloud-net;s={seed}nocloud/ || goto failed"
    ) in lines
    assert f"initrd --name ramdisk {base_url}/initrd.gz || goto failed" in lines
    undeploy_and_check(server, machine, node)
