"""Real images (qemu-img, qemu-io), a real HTTP server and a real tgtd for the image tests."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound.lab import fileserver
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


@pytest.fixture(scope="module")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on loopback: (folder, base URL)."""
    root = tmp_path_factory.mktemp("web")
    with fileserver.serving(root) as base:
        yield root, base


@pytest.fixture(scope="module")
def tgt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TgtServer]:
    server = TgtServer(tmp_path_factory.mktemp("tgt"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
