"""`ironbound serve` as a child process, for the demo, the benchmarks and the tests.

It runs exactly as an operator runs it (its own process, a config file, a
state folder, loopback ports) and is stopped the way an operator stops it:
SIGTERM, after which it must exit 0 within a minute.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ironbound.lab.errors import LabError
from ironbound.lab.ports import accepts, free_tcp_port


@dataclass
class ServeProcess:
    url: str
    port: int
    boot_port: int
    process: subprocess.Popen[bytes]
    log: Path
    exit_status: int | None = None


def _limited(nofile: tuple[int, int] | None) -> list[str]:
    """util-linux's prlimit setting RLIMIT_NOFILE for the command after it, if asked."""
    return [] if nofile is None else ["prlimit", f"--nofile={nofile[0]}:{nofile[1]}", "--"]


@contextmanager
def ironbound_serve(
    folder: Path,
    config: str = "",
    *,
    boot_port: int | None = None,
    timeout: float = 60.0,
    nofile: tuple[int, int] | None = None,
) -> Iterator[ServeProcess]:
    """Start `ironbound serve` with `config` (INI text) in `folder`; stop it on exit.

    nofile: the (soft, hard) RLIMIT_NOFILE it starts with, as a service manager sets it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port, boot_port = free_tcp_port(), boot_port or free_tcp_port()
    ini = folder / "ironbound.conf"
    ini.write_text(config)
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_limited(nofile), sys.executable, "-m", "ironbound.cli", "serve",
             "--config-file", str(ini), "--state-dir", str(folder / "state"), "--port", str(port),
             "--boot-port", str(boot_port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = ServeProcess(f"http://127.0.0.1:{port}", port, boot_port, process, log)
    try:
        deadline = time.monotonic() + timeout
        while not accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise LabError(
                    f"ironbound serve did not start; its log: {log}\n{log.read_text()[-2000:]}"
                )
            time.sleep(0.1)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            running.exit_status = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            running.exit_status = process.wait()
