"""A real dnsmasq reads the files the conductor writes, and answers a DHCP client.

The test builds two network namespaces joined by a veth pair (nothing on the
host's own interfaces), runs dnsmasq in one with ``--dhcp-hostsdir`` and
``--dhcp-optsdir`` on the directories Ironbound writes, and asks from the
other with `tests/dhcp/dhcp_client.py`, as a firmware PXE client and as
iPXE, while nodes are deployed, undeployed and redeployed through the API.
The boot server, listening in dnsmasq's namespace, serves a node only at
the address dnsmasq leased its MAC.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound import connections, service
from ironbound.api.services import ApiServices
from ironbound.bootserver.app import create_boot_app
from ironbound.conductor.worker import Conductor
from ironbound.dhcp.dnsmasq import static_config
from tests.api.helpers import provision
from tests.conftest import wait_until
from tests.dhcp.support import URL, available_node, deploy, dnsmasq_overrides, state_is

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
    conf_file.write_text(
        static_config(str(tmp_path / "hosts"), str(tmp_path / "opts"), str(tmp_path / "leases"))
    )
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


CLONE_NEWNET = 0x40000000
STRANGER = f"{SUBNET}.200"  # outside the dhcp-range: no lease


def _listen_in(namespace: str, address: str) -> socket.socket:
    """A listening TCP socket on `address` in `namespace`, made by a thread that enters it
    (setns moves only the calling thread; the socket stays in the namespace it was made in)."""
    made: list[socket.socket | BaseException] = []

    def enter_and_listen() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            with Path(f"/run/netns/{namespace}").open() as ns:
                if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((address, 0))
            sock.listen(connections.BACKLOG)
            made.append(sock)
        except BaseException as exc:
            made.append(exc)

    thread = threading.Thread(target=enter_and_listen)
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


@pytest.fixture
def boot_server(services: ApiServices, namespaces: tuple[str, str]) -> Iterator[str]:
    """The boot server, as Ironbound runs it, listening in dnsmasq's namespace: its URL."""
    sock = _listen_in(namespaces[0], f"{SUBNET}.1")
    port = sock.getsockname()[1]
    app = create_boot_app(services.conf, services.db, services.box, services.signals)
    limits = connections.Limits("boot server", max_connections=10, idle_timeout=5.0)
    server = service.http_server(app, f"{SUBNET}.1", port, limits)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what="the boot server")
        assert server.started, "the boot server did not start"
        yield f"http://{SUBNET}.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _get(client_ns: str, source: str, url: str) -> tuple[int, str]:
    """GET `url` from address `source` of the client namespace: (status, body)."""
    done = subprocess.run(
        ["ip", "netns", "exec", client_ns, "curl", "-sS", "--max-time", "10",
         "--interface", source, "-w", "\\n%{http_code}", url],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def test_the_boot_server_serves_a_node_only_at_the_address_dnsmasq_leased_its_mac(
    client: TestClient,
    conductor: Conductor,
    namespaces: tuple[str, str],
    dnsmasq: Path,
    boot_server: str,
) -> None:
    ns = namespaces[1]
    node = available_node(client, (MAC, True))
    script = deploy(client, conductor, node).removeprefix(URL)
    leased = _ask(ns, MAC, ipxe=True)["ack"]["yiaddr"]  # what iPXE does first
    for address in (leased, STRANGER):
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "ibd-c0")
    # A host that learnt the token (DHCP broadcasts it) asks first, from an address no
    # lease gives the node's MAC: refused, and it does not take the pin.
    assert _get(ns, STRANGER, boot_server + script) == (404, "Not found\n")
    status, body = _get(ns, leased, boot_server + script)
    assert status == 200 and body.startswith("#!ipxe") and "sanboot" in body, body
    events = boot_server + script.removesuffix("script.ipxe") + "events/booting"
    assert _get(ns, STRANGER, events)[0] == 404
    assert _get(ns, leased, events)[0] == 200
    state_is(client, node, "active")
