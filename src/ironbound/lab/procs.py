"""Start, identify and stop the lab's processes by PID, safe against PID reuse."""

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ironbound.lab.errors import LabError

log = logging.getLogger(__name__)

MASK = "******"


def start_ticks(pid: int) -> int | None:
    """Return a live process's start time in clock ticks, or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


@dataclass(frozen=True)
class ProcessRecord:
    """A PID plus its start time: enough to find and stop it later, and never a stranger."""

    name: str
    pid: int
    ticks: int

    @classmethod
    def of(cls, name: str, pid: int) -> "ProcessRecord":
        ticks = start_ticks(pid)
        if ticks is None:
            raise LabError(f"{name} (pid {pid}) exited right after it started")
        return cls(name, pid, ticks)

    def alive(self) -> bool:
        return start_ticks(self.pid) == self.ticks

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "ticks": self.ticks}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "ProcessRecord":
        pid, ticks = data["pid"], data["ticks"]
        if not isinstance(pid, int) or not isinstance(ticks, int):
            raise LabError(f"bad process record in lab state: {dict(data)}")
        return cls(str(data["name"]), pid, ticks)


def _signal(record: ProcessRecord, sig: signal.Signals) -> None:
    """Signal the process's group when it leads one, so forked helpers (socat children) go too."""
    try:
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, sig)
        else:
            os.kill(record.pid, sig)
    except ProcessLookupError:
        pass


def kill_leftover_group(record: ProcessRecord) -> None:
    """Kill helpers still in the group after their leader died.

    While any member lives the kernel keeps the group id from being reused, so a group
    with this id whose leader PID is free can only be ours.
    """
    if Path(f"/proc/{record.pid}").exists():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGKILL)


def wait_gone(record: ProcessRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while record.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_record(record: ProcessRecord, timeout: float = 10.0) -> None:
    """SIGTERM the process (group), SIGKILL it if it is still there after the timeout."""
    if record.alive():
        log.debug("stopping %s (pid %d)", record.name, record.pid)
        _signal(record, signal.SIGTERM)
        if not wait_gone(record, timeout):
            log.warning("%s (pid %d) ignored SIGTERM; killing it", record.name, record.pid)
            _signal(record, signal.SIGKILL)
            if not wait_gone(record, 5.0):
                raise LabError(f"could not stop {record.name} (pid {record.pid})")
    kill_leftover_group(record)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Daemon:
    """A long-running process the lab started in its own session, logging to a file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """env: variables to set on top of this process's environment."""
        self.name = name
        self.log_path = log_path
        log.debug("starting %s: %s", name, " ".join(argv))
        with log_path.open("ab") as out:
            self._popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=None if env is None else {**os.environ, **env},
            )
        self.record = ProcessRecord.of(name, self._popen.pid)

    def check_running(self) -> None:
        """Raise with the end of its log if the process has exited."""
        code = self._popen.poll()
        if code is not None:
            raise LabError(
                f"{self.name} exited with status {code}; end of {self.log_path}:\n"
                f"{log_tail(self.log_path)}"
            )

    def stop(self, timeout: float = 10.0) -> int:
        """Stop it (SIGTERM, then SIGKILL after `timeout`); its exit status."""
        stop_record(self.record, timeout)
        status = self._popen.wait()
        kill_leftover_group(self.record)
        return status


def wait_until(
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    daemon: Daemon | None = None,
) -> None:
    """Poll until ready() is true; fail early if the daemon that should get ready died."""
    deadline = time.monotonic() + timeout
    while not ready():
        if daemon is not None:
            daemon.check_running()
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def masked(argv: Sequence[str], secrets: Sequence[str]) -> str:
    """The command line as it may be logged: secrets replaced."""
    shown = " ".join(argv)
    for secret in secrets:
        if secret:
            shown = shown.replace(secret, MASK)
    return shown


def run(
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    secrets: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
) -> str:
    """Run a short command and return its stdout; raise LabError with its stderr on failure."""
    shown = masked(argv, secrets)
    log.debug("running %s", shown)
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            input=input_text,
            timeout=timeout,
            check=False,
            env=None if env is None else dict(env),
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout:.0f} s: {shown}") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip())[-2000:]
        for secret in secrets:
            if secret:
                detail = detail.replace(secret, MASK)
        raise LabError(f"{shown} failed with status {done.returncode}: {detail}")
    return done.stdout
