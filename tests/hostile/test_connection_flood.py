"""Idle connection floods against a real `ironbound serve`: bounded, closed, never fatal.

A host on the provisioning network can open connections and send nothing.
Each server holds at most its own [*]max_connections, the boot server at most
max_connections_per_address from one address, and a connection with no
complete request within [*]idle_timeout is closed; so a flood on the boot
port neither stops the API nor outlives the timeout. With few descriptors
(RLIMIT_NOFILE), the process raises its soft limit to the hard one, the log
stays small and both servers answer once the flood is gone.
"""

from __future__ import annotations

import resource
import selectors
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from tests.serving import Server, serve

IDLE_TIMEOUT = 6.0
CONFIG = (
    "[DEFAULT]\nauth_strategy = noauth\n"
    f"[bootserver]\nmax_connections = 100\nmax_connections_per_address = 10\n"
    f"idle_timeout = {IDLE_TIMEOUT}\n"
)


def _accept_queue(port: int) -> int:
    """Connections the kernel holds for the listener on `port` that it has not accepted."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            return int(fields[4].split(":")[1], 16)
    return 0


def _flood(port: int, per_address: int, addresses: range) -> list[socket.socket]:
    """Connections to 127.0.0.1:port from 127.0.0.<a> for each a, sending nothing.

    Opened an address at a time, each once the server has taken the last from its
    accept queue: past the queue's length the kernel would make them wait for it,
    seconds at a time, which is the kernel's bound and not the one under test.
    """
    flood = []
    deadline = time.monotonic() + 30
    for last in addresses:
        while _accept_queue(port) and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(per_address):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.bind((f"127.0.0.{last}", 0))
            sock.connect_ex(("127.0.0.1", port))  # EINPROGRESS: the kernel completes it
            flood.append(sock)
    return flood


@contextmanager
def _flooding(port: int, per_address: int, addresses: range) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        flood = _flood(port, per_address, addresses)
        for sock in flood:
            stack.enter_context(sock)
        yield flood


def _still_open(flood: list[socket.socket], seconds: float, enough: int = 0) -> list[socket.socket]:
    """Those of `flood` the server has not closed (EOF or reset) after `seconds`, or as
    soon as no more than `enough` are left open."""
    open_ones = set(flood)
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        for sock in flood:
            selector.register(sock, selectors.EVENT_READ, sock)
        while len(open_ones) > enough and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(min(left, 0.5)):
                sock = key.data
                try:
                    if sock.recv(1024):
                        continue  # an answer (there was no request): not what we wait for
                except BlockingIOError:
                    continue
                except OSError:
                    pass  # reset or refused: closed too
                selector.unregister(sock)
                open_ones.discard(sock)
    return [sock for sock in flood if sock in open_ones]


def _api_answers(server: Server, within: float) -> float:
    started = time.monotonic()
    response = requests.get(f"{server.url}/v1", timeout=within)
    response.raise_for_status()
    return time.monotonic() - started


def _boot_answers(server: Server, source: str, within: float) -> bool:
    """Whether the boot server answers a request from `source` (any status) within `within`
    seconds, asking again on a new connection while it does not."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(2)
            sock.bind((source, 0))
            try:
                sock.connect(("127.0.0.1", server.boot_port))
                sock.sendall(b"GET /boot/mac/00:00:00:00:00:01 HTTP/1.1\r\nHost: x\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 "):
                    return True
            except OSError:
                continue
    return False


def _sockets(pid: int) -> int:
    """How many sockets process `pid` holds."""
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if fd.readlink().name.startswith("socket:"))


def test_an_idle_flood_on_the_boot_port_is_bounded_and_closed(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as server:
        before = _sockets(server.process.pid)
        with _flooding(server.boot_port, 15, range(2, 22)) as flood:
            # 300 from 20 addresses: 5 an address are over its bound, and the server holds 100.
            _still_open(flood, IDLE_TIMEOUT / 2, enough=100)
            held = _sockets(server.process.pid) - before
            took = _api_answers(server, within=5)
            after_timeout = _still_open(flood, IDLE_TIMEOUT + 10)
            assert _boot_answers(server, "127.0.0.99", within=10)
    assert held <= 100 + 1, held  # and the API's connection, if still open
    assert took < 2, took
    assert after_timeout == []


def _soft_nofile(pid: int) -> int:
    return resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]


def test_a_flood_past_the_descriptor_limit_leaves_both_servers_answering(tmp_path: Path) -> None:
    # Soft 128, hard 512: the server raises itself to 512; 1,200 connections from 80
    # addresses is more than it may hold.
    with serve(tmp_path, "", nofile=(128, 512)) as server:
        with _flooding(server.boot_port, 15, range(2, 82)) as flood:
            _still_open(flood, 3)
            took = _api_answers(server, within=10)
            logged = server.log.stat().st_size
        recovered = _boot_answers(server, "127.0.0.99", within=30)
        soft = _soft_nofile(server.process.pid)
    assert logged < 64 * 1024, logged
    assert took < 5, took
    assert recovered
    assert soft == 512
