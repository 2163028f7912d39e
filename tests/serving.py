"""A real `ironbound serve` process for tests that drive it like an operator."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ironbound.lab.serve import ironbound_serve

BIN = Path(sys.executable).parent


@dataclass
class Server:
    url: str
    boot_port: int
    process: subprocess.Popen[bytes]
    log: Path

    def baremetal(
        self, command: str, check: bool = True, auth: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `baremetal COMMAND` against this server, as an operator would.

        The command is split as a shell would split it, so tests read like the
        admin guide's transcript (and shell quoting means what it means there).
        auth: OS_* variables instead of auth type none with this server as endpoint.
        """
        args = shlex.split(command)
        env = {
            **os.environ,
            **(auth or {"OS_ENDPOINT": self.url, "OS_AUTH_TYPE": "none"}),
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
                f"baremetal {command} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def json(self, command: str) -> Any:
        """`baremetal COMMAND -f json`, parsed."""
        return json.loads(self.baremetal(f"{command} -f json").stdout)

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
def serve(
    folder: Path,
    config: str = "",
    boot_port: int | None = None,
    nofile: tuple[int, int] | None = None,
) -> Iterator[Server]:
    """`ironbound serve` on free loopback ports; SIGTERM at the end must exit 0.

    nofile: the (soft, hard) RLIMIT_NOFILE it starts with.
    """
    with ironbound_serve(folder, config, boot_port=boot_port, nofile=nofile) as running:
        yield Server(running.url, running.boot_port, running.process, running.log)
    assert running.exit_status == 0, (
        f"ironbound serve exited {running.exit_status} on SIGTERM:\n{running.log.read_text()}"
    )
