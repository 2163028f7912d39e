"""Real images (qemu-img, qemu-io), a real HTTP server and a real tgtd for the image tests."""

from __future__ import annotations

import functools
import hashlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound.lab.tgt import TgtServer

PATTERN_OFFSET = 1 << 20


def make_qcow2(path: Path, *, size: str = "16M", pattern: int = 0x5A) -> Path:
    """A qcow2 image with 64 KiB of `pattern` at 1 MiB, nothing else allocated."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} {PATTERN_OFFSET} 64k", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pattern_at(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(PATTERN_OFFSET)
        return f.read(4)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


class _QuietServer(http.server.ThreadingHTTPServer):
    """A client that stops reading early (an oversized image) is no error here."""

    def handle_error(self, request: object, client_address: object) -> None:
        return None


@pytest.fixture(scope="module")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on loopback: (folder, base URL)."""
    root = tmp_path_factory.mktemp("web")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def tgt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TgtServer]:
    server = TgtServer(tmp_path_factory.mktemp("tgt"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
