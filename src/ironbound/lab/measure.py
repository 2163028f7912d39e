"""What a server process tree costs: memory and CPU time, read from /proc.

The benchmarks measure a server from outside, as an operator would with
`ps`: by PID, counting the process and every process below it (Ironic forks
its API and conductor workers, so the parent alone would hide them). A
server made of several processes (Ironbound's API and conductor processes
scaled out) is measured by all of their PIDs at once, each process counted once.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def tree(*pids: int) -> list[int]:
    """`pids` and their descendants that are alive now (children of every thread), once each."""
    found: dict[int, None] = {}  # ordered, and quick to ask
    pending = list(pids)
    while pending:
        one = pending.pop()
        if one in found:
            continue
        found[one] = None
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{one}/task").iterdir():
                with contextlib.suppress(OSError):
                    pending += [int(c) for c in (task / "children").read_text().split()]
    return list(found)


def memory_mib(*pids: int) -> tuple[float, float]:
    """RSS and PSS of processes and their descendants, summed, in MiB."""
    rss = pss = 0
    for one in tree(*pids):
        try:
            for line in Path(f"/proc/{one}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def cpu_seconds(*pids: int) -> float:
    """User and system CPU time of processes and their descendants, reaped ones included.

    A process's cutime/cstime count only children it has already waited for,
    which are no longer in the tree, so nothing is counted twice.
    """
    ticks = 0
    for one in tree(*pids):
        try:
            stat = Path(f"/proc/{one}/stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state is [0],
        # utime stime cutime cstime are [11:15].
        ticks += sum(int(v) for v in stat[stat.rindex(")") + 2 :].split()[11:15])
    return ticks / _TICKS_PER_SECOND


class Sampler(threading.Thread):
    """Samples the memory of process trees (summed) every 50 ms and keeps the peaks.

    `take_peak` hands over the peaks seen since the previous call and starts
    again, so one sampler gives the peak of each phase of a run as well as of
    the whole run (`peak_rss`, `peak_pss`).
    """

    def __init__(self, *pids: int) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak_rss = self.peak_pss = 0.0
        self._since_rss = self._since_pss = 0.0
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.05):
            self._sample()

    def _sample(self) -> None:
        rss, pss = memory_mib(*self.pids)
        with self._lock:
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self._since_rss, self._since_pss = max(self._since_rss, rss), max(self._since_pss, pss)

    def take_peak(self) -> tuple[float, float]:
        """Peak RSS and PSS (MiB) since the last call, now included."""
        self._sample()
        with self._lock:
            peak = self._since_rss, self._since_pss
            self._since_rss = self._since_pss = 0.0
        return peak

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
