"""Fixtures for the lab tests: a stand-in boot server, and a check that nothing is left running."""

import http.server
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound.lab.state import STATE_FILE
from ironbound.lab.teardown import stop_lab_dir

# Ironbound's generic entry script does the same: chain the per-node script by MAC.
ENTRY_SCRIPT = "#!ipxe\nchain /node-${mac:hexhyp}.ipxe\n"

TIMINGS: dict[str, float] = {}


class BootServer:
    """A tiny HTTP server on 127.0.0.1 serving iPXE scripts from memory."""

    def __init__(self) -> None:
        self.scripts: dict[str, str] = {"/boot.ipxe": ENTRY_SCRIPT}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.scripts.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def set_node_script(self, mac: str, script: str) -> None:
        self.scripts[f"/node-{mac.lower().replace(':', '-')}.ipxe"] = script

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture(scope="session")
def boot_server() -> Iterator[BootServer]:
    server = BootServer()
    yield server
    server.close()


def _holders_of(base: Path) -> list[str]:
    """Processes (not this one) with a file open under base: every lab daemon logs there."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            targets = [fd.readlink() for fd in (proc / "fd").iterdir()]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(target.is_relative_to(base) for target in targets):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def _children() -> list[str]:
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            found.append(f"{pid}: {cmdline.decode()[:120]}")
    return found


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every lab test works under here (short paths: unix sockets allow 107 bytes)."""
    root: Path = tmp_path_factory.mktemp("labs")
    return root.resolve()


@pytest.fixture
def lab_dir(lab_root: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix="t", dir=lab_root))


@pytest.fixture(scope="session", autouse=True)
def no_leftover_processes(lab_root: Path) -> Iterator[None]:
    """After the suite, no lab process may remain; any found are reported, then stopped."""
    yield
    leftovers = _holders_of(lab_root) + _children()
    for state in lab_root.rglob(STATE_FILE):
        stop_lab_dir(state.parent)
    assert not leftovers, "lab processes left running:\n" + "\n".join(leftovers)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("lab timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.2f} s")
