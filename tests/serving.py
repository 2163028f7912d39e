"""A real `ironbound serve` process for tests that drive it like an operator."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    boot_port: int
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
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"baremetal {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.baremetal(*args, "-f", "json").stdout)

    def node(self, ident: str) -> dict[str, Any]:
        """The node as the API shows it (plain HTTP: no CLI start-up cost in wait loops)."""
        response = requests.get(
            f"{self.url}/v1/nodes/{ident}",
            headers={"X-OpenStack-Ironic-API-Version": "latest"},
            timeout=10,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def serve(folder: Path, config: str = "", boot_port: int | None = None) -> Iterator[Server]:
    """`ironbound serve` on free loopback ports; SIGTERM at the end must exit 0."""
    port, boot_port = free_port(), boot_port or free_port()
    ini = folder / "ironbound.conf"
    ini.write_text(config)
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ironbound.cli", "serve", "--config-file", str(ini),
             "--state-dir", str(folder / "state"), "--port", str(port),
             "--boot-port", str(boot_port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url, timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"ironbound serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(url, boot_port, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert status == 0, f"ironbound serve exited {status} on SIGTERM:\n{log.read_text()}"
