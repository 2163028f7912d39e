"""Wake-ups between the API, the boot server and the conductor inside one process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Lane:
    """Idle workers of one kind waiting for work.

    Each queued job wakes one waiter, not all: every wake-up costs a claim
    (a write transaction), and a worker that finishes a job claims again by
    itself. `pending` keeps a wake-up that came while no worker was waiting,
    so a worker about to wait looks once more instead of sleeping a poll
    interval.
    """

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.pending = False


class Signals:
    """In-process wake-ups between the API and the conductor of one `serve` process.

    Across processes nothing is delivered and both sides fall back to polling
    the database ([conductor]job_poll_interval), so correctness never depends
    on a signal, only latency does.
    """

    def __init__(self) -> None:
        self._any = _Lane()
        self._quick = _Lane()  # the worker that takes only the jobs a caller waits on
        self._closed = False
        #: A conductor runs in this process: its wake-ups say when its jobs finish.
        self.conductor_running = False
        self._done = threading.Condition()
        self._watched: dict[int, threading.Event] = {}
        self._watched_lock = threading.Lock()

    def work_queued(self, *, quick: bool = False) -> None:
        """Wake one idle worker; `quick`: a caller waits for this job, wake the quick one too."""
        for lane in (self._any, self._quick) if quick else (self._any,):
            with lane.condition:
                lane.pending = True
                lane.condition.notify()

    def wait_for_work(self, timeout: float, *, quick: bool = False) -> None:
        lane = self._quick if quick else self._any
        with lane.condition:
            if self._closed:
                return
            if not lane.pending:
                lane.condition.wait(timeout)
            if not self._closed:
                lane.pending = False

    def close(self) -> None:
        """Wake every waiting worker now and keep waking them (the conductor is stopping)."""
        self.conductor_running = False
        for lane in (self._any, self._quick):
            with lane.condition:
                self._closed = True
                lane.condition.notify_all()

    def reopen(self) -> None:
        """The conductor of this process (re)starts."""
        self.conductor_running = True
        for lane in (self._any, self._quick):
            with lane.condition:
                self._closed = False

    def job_finished(self, job_id: int) -> None:
        """Wake whoever waits for this job, and those waiting for any node to be let go."""
        with self._watched_lock:
            event = self._watched.get(job_id)
        if event is not None:
            event.set()
        with self._done:
            self._done.notify_all()

    def wait_for_finish(self, timeout: float) -> None:
        """Wait until some job finishes (or `timeout`)."""
        with self._done:
            self._done.wait(timeout)

    @contextmanager
    def watch(self, job_id: int) -> Iterator[threading.Event]:
        """An event set when this process's conductor finishes job `job_id`."""
        event = threading.Event()
        with self._watched_lock:
            self._watched[job_id] = event
        try:
            yield event
        finally:
            with self._watched_lock:
                self._watched.pop(job_id, None)
