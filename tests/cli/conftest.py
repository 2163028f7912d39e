"""A real `ironbound serve` process, driven by the real `baremetal` CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def baremetal(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `baremetal ARGS` against this server, as an operator would."""
        env = {
            **os.environ,
            "OS_ENDPOINT": self.url,
            "OS_AUTH_TYPE": "none",
            "OS_BAREMETAL_API_VERSION": "latest",
        }
        result = subprocess.run(
            [str(BIN / "baremetal"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"baremetal {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.baremetal(*args, "-f", "json").stdout)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ironbound.cli", "serve", "--state-dir", str(folder / "state"),
             "--port", str(port), "--boot-port", str(free_port())],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(url, timeout=1).ok:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"ironbound serve did not start:\n{log.read_text()}")
        time.sleep(0.1)
    yield Server(url, process, log)
    process.send_signal(signal.SIGTERM)
    status = process.wait(30)
    assert status == 0, f"ironbound serve exited {status} on SIGTERM:\n{log.read_text()}"
