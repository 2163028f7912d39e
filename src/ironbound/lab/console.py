"""Watch a machine's serial log: wait for a line, with ANSI escapes and CRs stripped."""

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ironbound.lab.errors import LabError

# CSI sequences (including OVMF's ESC[=3h), two-byte escapes and charset selections.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTEXT_LINES = 25


def clean(text: str) -> str:
    """Serial output as a person would read it: no escapes, no CRs or other controls."""
    return _CONTROL.sub("", _ANSI.sub("", text))


class ConsoleTimeoutError(LabError):
    """The awaited line did not appear in time."""


class BootFailedError(LabError):
    """A line that means the boot failed appeared first."""


@dataclass(frozen=True)
class ConsoleMatch:
    line: str
    elapsed: float  # seconds from the given start (or the call) to the poll that saw it
    offset: int  # log size when it was seen: pass as `since` to wait for what follows


class SerialConsole:
    """The serial log file libvirt appends a machine's COM1 output to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> int:
        """Current log size: output written after this point is 'new'."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _read(self, since: int) -> tuple[str, int]:
        try:
            with self.path.open("rb") as log:
                log.seek(since)
                data = log.read()
        except FileNotFoundError:
            return "", since
        return clean(data.decode("latin-1")), since + len(data)

    def wait_for(
        self,
        pattern: str,
        *,
        timeout: float,
        since: int = 0,
        started: float | None = None,
        fail_on: Sequence[str] = (),
        poll: float = 0.1,
    ) -> ConsoleMatch:
        """Wait for a line matching pattern (re.search) in output written after `since`.

        `started` is a time.monotonic() value to measure from (e.g. just before power-on).
        A line matching any fail_on pattern first raises BootFailedError; no match within
        timeout raises ConsoleTimeoutError. Both carry the last lines of the console.
        """
        wanted = re.compile(pattern)
        failures = [re.compile(failure) for failure in fail_on]
        start = time.monotonic() if started is None else started
        deadline = time.monotonic() + timeout
        while True:
            text, offset = self._read(since)
            lines = text.splitlines()
            # Only ended lines are matched: QEMU writes the serial log in pieces and a
            # guest under TCG can stall for seconds mid-line, so a last line without its
            # end may be half a line (even half an escape sequence), however long it sat.
            ended = lines if text.endswith("\n") else lines[:-1]
            for line in ended:
                if wanted.search(line):
                    return ConsoleMatch(line.strip(), time.monotonic() - start, offset)
                if any(failure.search(line) for failure in failures):
                    raise BootFailedError(self._report(f"boot failed: {line.strip()!r}", lines))
            if time.monotonic() > deadline:
                raise ConsoleTimeoutError(
                    self._report(f"no line matching {pattern!r} after {timeout:.0f} s", lines)
                )
            time.sleep(poll)

    def _report(self, what: str, lines: list[str]) -> str:
        tail = "\n".join(f"  | {line}" for line in lines[-_CONTEXT_LINES:] if line.strip())
        return f"{self.path}: {what}; last lines:\n{tail}"
