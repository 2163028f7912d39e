"""Wake-ups between the API, the boot server and the conductor inside one process."""

from __future__ import annotations

import threading


class Signals:
    """In-process wake-ups between the API and the conductor of one `serve` process.

    Across processes nothing is delivered and both sides fall back to polling
    the database ([conductor]job_poll_interval), so correctness never depends
    on a signal, only latency does.
    """

    def __init__(self) -> None:
        self._work = threading.Condition()
        self._work_pending = False
        self._closed = False
        self._done = threading.Condition()

    def work_queued(self) -> None:
        with self._work:
            self._work_pending = True
            self._work.notify_all()

    def wait_for_work(self, timeout: float) -> None:
        with self._work:
            if self._closed:
                return
            if not self._work_pending:
                self._work.wait(timeout)
            if not self._closed:
                self._work_pending = False

    def close(self) -> None:
        """Wake every waiting worker now and keep waking them (the conductor is stopping)."""
        with self._work:
            self._closed = True
            self._work.notify_all()

    def reopen(self) -> None:
        with self._work:
            self._closed = False

    def job_finished(self) -> None:
        with self._done:
            self._done.notify_all()

    def wait_for_finish(self, timeout: float) -> None:
        with self._done:
            self._done.wait(timeout)
