"""A real dnsmasq reads the files the conductor writes, and answers a DHCP client.

The test builds two network namespaces joined by a veth pair (nothing on the
host's own interfaces), runs dnsmasq in one with ``--dhcp-hostsdir`` and
``--dhcp-optsdir`` on the directories Ironbound writes, and asks from the
other with `tests/dhcp/dhcp_client.py`, as a firmware PXE client and as
iPXE, while nodes are deployed, undeployed and redeployed through the API.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.conductor.worker import Conductor
from ironbound.dhcp.dnsmasq import static_config
from tests.api.helpers import provision
from tests.conftest import wait_until
from tests.dhcp.support import available_node, deploy, dnsmasq_overrides

DNSMASQ = "/usr/sbin/dnsmasq"
CLIENT = Path(__file__).with_name("dhcp_client.py")
SUBNET = "10.213.7"
MAC = "52:54:00:d7:00:01"
UNKNOWN_MAC = "52:54:00:d7:00:99"


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    return dnsmasq_overrides(tmp_path)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    """A server and a client namespace joined by a veth pair: (server, client)."""
    assert os.geteuid() == 0, "this test creates network namespaces: run it as root"
    tag = f"ibd{os.getpid() % 100000}"
    server, client = f"{tag}-s", f"{tag}-c"
    _ip("netns", "add", server)
    try:
        _ip("netns", "add", client)
        _ip(
            "link",
            "add",
            "ibd-s0",
            "netns",
            server,
            "type",
            "veth",
            "peer",
            "name",
            "ibd-c0",
            "netns",
            client,
        )
        _ip("-n", server, "addr", "add", f"{SUBNET}.1/24", "dev", "ibd-s0")
        for ns, dev in ((server, "ibd-s0"), (client, "ibd-c0")):
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield server, client
    finally:
        for ns in (server, client):  # deleting a namespace deletes its end of the veth
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)


@pytest.fixture
def dnsmasq(namespaces: tuple[str, str], conductor: Conductor, tmp_path: Path) -> Iterator[Path]:
    """dnsmasq in the server namespace, on the conductor's directories; yields its log."""
    assert shutil.which(DNSMASQ), "dnsmasq is missing: scripts/setup installs dnsmasq-base"
    run = tmp_path / "dnsmasq"
    run.mkdir()
    conf_file = run / "dnsmasq.conf"
    conf_file.write_text(static_config(str(tmp_path / "hosts"), str(tmp_path / "opts")))
    log = run / "dnsmasq.log"
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            namespaces[0],
            DNSMASQ,
            "--keep-in-foreground",
            f"--conf-file={conf_file}",
            "--port=0",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--interface=ibd-s0",
            "--except-interface=lo",
            f"--dhcp-range={SUBNET}.10,{SUBNET}.100,5m",
            f"--pid-file={run / 'dnsmasq.pid'}",
            f"--dhcp-leasefile={run / 'leases'}",
            "--user=root",
            "--group=root",  # pytest's folders are root's alone
            "--no-ping",
            "--log-dhcp",  # logs the options it sends, tokens included: never in production
            f"--log-facility={log}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(
            lambda: proc.poll() is not None or "started, version" in _text(log),
            what="dnsmasq to start",
        )
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield log
    finally:
        proc.send_signal(signal.SIGTERM)  # ip netns exec execs dnsmasq: same PID
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _ask(client_ns: str, mac: str, *, ipxe: bool = False, arch: int = 0) -> dict[str, Any]:
    """One DISCOVER/REQUEST from the client namespace: the OFFER and the ACK."""
    args = [sys.executable, str(CLIENT), "--interface", "ibd-c0", "--mac", mac]
    args += ["--arch", str(arch), "--timeout", "5"] + (["--ipxe"] if ipxe else [])
    done = subprocess.run(
        ["ip", "netns", "exec", client_ns, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    assert answer["offer"] is not None, f"no DHCP offer for {mac}"
    assert answer["ack"] is not None, f"no DHCP ack for {mac}"
    return answer


def _boot_file(client_ns: str, mac: str, **kwargs: Any) -> str | None:
    """The boot file offered (option 67, or the BOOTP file field), the same in OFFER and ACK."""
    answer = _ask(client_ns, mac, **kwargs)
    offered = [(reply["option67"] or reply["file"] or None) for reply in answer.values()]
    assert offered[0] == offered[1], answer
    return offered[0]


def _offers(client_ns: str, mac: str, expected: str | None, **kwargs: Any) -> None:
    """Wait (dnsmasq re-reads changed files at once, but polls are cheap) for `expected`."""
    seen: list[str | None] = []

    def matches() -> bool:
        seen.append(_boot_file(client_ns, mac, **kwargs))
        return seen[-1] == expected

    try:
        wait_until(matches, timeout=15, what=f"boot file {expected!r} for {mac}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last offered {seen[-1:]}") from None


def test_dnsmasq_offers_ipxe_then_the_node_script_only_while_deployed(
    client: TestClient,
    conductor: Conductor,
    namespaces: tuple[str, str],
    dnsmasq: Path,
) -> None:
    ns = namespaces[1]
    node = available_node(client, (MAC, True))
    # Not deployed: dnsmasq hands out an address and no boot file.
    _offers(ns, MAC, None, ipxe=True)
    _offers(ns, MAC, None)

    script = deploy(client, conductor, node)
    _offers(ns, MAC, script, ipxe=True)  # iPXE: the node's own script
    _offers(ns, MAC, "undionly.kpxe")  # BIOS firmware: chainload iPXE first
    _offers(ns, MAC, "ipxe.efi", arch=7)  # UEFI x86-64 firmware
    _offers(ns, MAC, "ipxe.efi", arch=9)
    _offers(ns, MAC, script, ipxe=True, arch=7)  # iPXE gets the script on any firmware
    assert _boot_file(ns, UNKNOWN_MAC, ipxe=True) is None  # a MAC with no entry
    assert _boot_file(ns, UNKNOWN_MAC) is None

    # Withdrawn (the deploy is aborted): no boot file any more, without a restart.
    provision(client, node, "abort", "deploy failed")
    _offers(ns, MAC, None, ipxe=True)
    _offers(ns, MAC, None)

    # A new deploy is a new token: dnsmasq serves the new URL, not the revoked one.
    again = deploy(client, conductor, node)
    assert again != script
    _offers(ns, MAC, again, ipxe=True)
    _offers(ns, MAC, "undionly.kpxe")

    provision(client, node, "deleted", "available")
    _offers(ns, MAC, None, ipxe=True)
    _offers(ns, MAC, None)
