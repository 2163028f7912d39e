"""The conductor process part: worker threads that run jobs, and the threads of its
periodic duties.

A worker takes a `Claim` (the job, the node's lock, the node's snapshot)
and runs the job's flow inside it; the claim ends the job, whatever the flow
does (`conductor/claim.py`). The periodic duties are in
`conductor/periodic.py`, taking over from conductors that can no longer let
go in `conductor/takeover.py`; this module starts and stops their threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection

from ironbound.conductor import progress, takeover
from ironbound.conductor.claim import Claim
from ironbound.conductor.context import ConductorContext
from ironbound.conductor.flows import FLOWS
from ironbound.conductor.periodic import Duties
from ironbound.conductor.task import NodeTask
from ironbound.db import conductors
from ironbound.jobspec import SYNCHRONOUS_KINDS, JobKind

LOG = logging.getLogger(__name__)
#: An idle worker looks at the queue by itself after this many poll intervals without a
#: wake-up (the queue watch wakes it as soon as there is work).
_IDLE_POLLS = 10


class Conductor:
    """Worker threads plus a periodic thread, for one conductor name."""

    def __init__(self, ctx: ConductorContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.duties = Duties(ctx)

    # --- life cycle -----------------------------------------------------------

    def start(self, properties: dict[str, dict[str, str]] | None = None) -> None:
        """Register, recover what a previous run of this conductor left, start threads.

        `properties` are the driver_info keys per hardware type; when not
        given they are collected here, which loads every enabled driver.
        """
        registry = self.ctx.registry
        if properties is None:
            properties = {name: registry.properties(name) for name in registry.profiles}
        offers = [
            conductors.Offer(p.name, p.enabled, p.defaults, properties.get(p.name, {}))
            for p in registry.profiles.values()
        ]
        with self.ctx.db.write() as session:
            conductors.register(session, self.ctx.hostname, offers, group=self.ctx.group)
        takeover.take_over(self.ctx, self.ctx.hostname, "restarted")
        try:  # a full resync: whatever changed while no conductor ran
            self.duties.sync_dhcp()
        except Exception:  # the periodic duty retries; the conductor still serves
            LOG.exception("Conductor %s: the DHCP resync at start failed", self.ctx.hostname)
        # A restarted iSCSI target (tgtd keeps nothing) gets its exports back from the
        # storage check of each active node, without waiting for the first interval.
        self.duties.queue_storage_checks()
        self._stop.clear()
        self.ctx.signals.reopen()
        self._threads = []
        for number in range(self.ctx.conf.conductor.workers_pool_size):
            self._spawn(self._work_loop, f"ironbound-worker-{number}")
        # A caller waits on each synchronous job (validate, boot device): one
        # more worker takes only those, so they never queue behind long flows.
        self._spawn(lambda: self._work_loop(SYNCHRONOUS_KINDS), "ironbound-quick")
        self._spawn(self._periodic_loop, "ironbound-periodic")
        self._spawn(self._progress_loop, "ironbound-progress")
        self._spawn(self._watch_queue, "ironbound-queue-watch")
        self._spawn(self._watch_exports, "ironbound-export-watch")
        LOG.info(
            "Conductor %s started with hardware types %s",
            self.ctx.hostname,
            ", ".join(self.ctx.registry.profiles),
        )

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> None:
        """Let running jobs finish within one deadline, abandon the rest, go offline.

        The deadline ([DEFAULT]graceful_shutdown_timeout unless `timeout` is
        given) covers every worker at once. A job still running then is
        abandoned as a dead conductor's would be: its node moves to the
        failure state of its busy state, with the reason, and is unlocked;
        the flow's next write finds its lock gone and stops. So no stop,
        however long a job, leaves a node locked.
        """
        grace = self.ctx.conf.graceful_shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + grace
        self._stop.set()
        self.ctx.signals.close()  # wake idle workers so they see the stop
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        running = sum(thread.is_alive() for thread in self._threads)
        if running:
            LOG.warning(
                "Conductor %s: %d job(s) still running after %g s; abandoning them",
                self.ctx.hostname,
                running,
                grace,
            )
        takeover.take_over(self.ctx, self.ctx.hostname, "stopped before its job finished")
        with self.ctx.db.write() as session:
            conductors.unregister(session, self.ctx.hostname)
        LOG.info("Conductor %s stopped", self.ctx.hostname)

    # --- jobs -----------------------------------------------------------------

    def _work_loop(self, kinds: Collection[JobKind] | None = None) -> None:
        # Wake-ups come from this process's API and boot server, and from the queue
        # watch (jobs queued elsewhere); the timeout is a safety net only.
        idle = self.ctx.conf.conductor.job_poll_interval * _IDLE_POLLS
        while not self._stop.is_set():
            try:
                ran = self.run_one(kinds)
            except Exception:
                LOG.exception("Worker loop error; continuing")
                ran = False
            if not ran:
                self.ctx.signals.wait_for_work(idle, quick=kinds is not None)

    def _watch_queue(self) -> None:
        """Every [conductor]job_poll_interval: wake workers for jobs queued elsewhere, and
        settle the boots that are due to (`Duties.look_at_queue`)."""
        while not self._stop.wait(self.ctx.conf.conductor.job_poll_interval):
            try:
                self.duties.look_at_queue()
            except Exception:
                LOG.exception("Looking at the job queue failed; trying again")

    def run_one(self, kinds: Collection[JobKind] | None = None) -> bool:
        """Claim and run one job (of `kinds`, if given); False when there was none to run."""
        claim = Claim.take(self.ctx, kinds)
        if claim is None:
            return False
        try:
            with claim:
                claim.result = FLOWS[claim.job.kind](NodeTask(claim), claim.job.args)
        finally:
            self.ctx.signals.job_finished(claim.job.id)
            if kinds is not None:
                # The node is free: its next job may be one only the other workers take.
                # (A worker of those claims again by itself when its job is done.)
                self.ctx.signals.work_queued()
        return True

    def _progress_loop(self) -> None:
        """Write the progress of steps that run long (see conductor/progress.py)."""
        while not self._stop.wait(progress.DELAY / 2):
            try:
                self.ctx.progress.write_overdue()
            except Exception:
                LOG.exception("Writing the progress of long steps failed; trying again")

    # --- periodic duties ------------------------------------------------------

    def _periodic_loop(self) -> None:
        while not self._stop.wait(self.ctx.conf.conductor.heartbeat_interval):
            self.duties.tick()

    def _watch_exports(self) -> None:
        """Every [conductor]export_check_interval, give a restarted iSCSI target its
        exports back (`Duties.look_at_exports`). 0 turns it off (looked at again every
        heartbeat: options apply as they change)."""
        conf = self.ctx.conf.conductor
        while not self._stop.wait(conf.export_check_interval or conf.heartbeat_interval):
            if not conf.export_check_interval:
                continue
            try:
                self.duties.look_at_exports()
            except Exception:
                LOG.exception("Looking at the iSCSI target's exports failed; trying again")
