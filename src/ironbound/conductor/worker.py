"""The conductor process part: worker threads that run jobs, and periodic duties.

Workers claim jobs from the database (the queue), run the job's flow with
the node's lock held, and write the outcome back in the same transaction
that releases the lock. A failed provision flow moves the node to the
failure state of the state it was in, with the failing step and its cause in
last_error. Periodic duties: heartbeats, taking over from dead conductors,
failing deploys whose callback never came, purging unread results, and
reconciling the DHCP provider's entries with the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

from sqlalchemy.orm import Session

from ironbound import dhcp, errors, records, states
from ironbound.conductor import progress
from ironbound.conductor.context import ConductorContext
from ironbound.conductor.flows import FLOWS
from ironbound.conductor.task import NodeTask
from ironbound.db import conductors, jobs, managed_volumes, nodes, snapshots, tokens
from ironbound.drivers.base import RECONCILES, StorageInterface
from ironbound.jobspec import SYNCHRONOUS_KINDS, UNDEPLOY_ACTION, JobKind

LOG = logging.getLogger(__name__)
#: An idle worker looks at the queue by itself after this many poll intervals without a
#: wake-up (the queue watch wakes it as soon as there is work).
_IDLE_POLLS = 10


def _snapshot_or_none(
    session: Session, node_id: int, ctx: ConductorContext
) -> records.NodeSnapshot | None:
    """The node as its job is claimed, in the claim's transaction (one transaction fewer
    per job); None if it cannot be read there: the task then loads it, and fails, itself."""
    try:
        return snapshots.load(session, node_id, ctx.box)
    except (errors.IronboundError, ValueError):  # gone, or its secrets unreadable
        return None


class Conductor:
    """Worker threads plus a periodic thread, for one conductor name."""

    def __init__(self, ctx: ConductorContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_power_sync = time.monotonic()
        self._last_storage_sync = time.monotonic()
        #: Whether the last look at the iSCSI target failed (logged once, not every look).
        self._target_unseen = False

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
        self._take_over(self.ctx.hostname, "restarted")
        try:  # a full resync: whatever changed while no conductor ran
            self.sync_dhcp()
        except Exception:  # the periodic duty retries; the conductor still serves
            LOG.exception("Conductor %s: the DHCP resync at start failed", self.ctx.hostname)
        # A restarted iSCSI target (tgtd keeps nothing) gets its exports back from the
        # storage check of each active node, without waiting for the first interval.
        self._queue_storage_checks()
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
        self._take_over(self.ctx.hostname, "stopped before its job finished")
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
        """Every [conductor]job_poll_interval, wake a worker for each job it could run,
        and settle the boots that are due to (see `_settle_boots`).

        Jobs queued by other processes (an `ironbound api` beside this
        conductor) wake nobody here. One cheap read per interval looks for
        them, instead of every idle worker trying to claim (a write) on its own.
        """
        conf = self.ctx.conf.conductor
        types = tuple(self.ctx.registry.profiles)
        while not self._stop.wait(conf.job_poll_interval):
            try:
                with self.ctx.db.read() as session:
                    found = jobs.runnable(
                        session, types, None, group=self.ctx.group, up_to=conf.workers_pool_size
                    )
                    quick = jobs.runnable(
                        session, types, SYNCHRONOUS_KINDS, group=self.ctx.group, up_to=1
                    )
                    due = tokens.settle_due(session, states.DEPLOYWAIT, self.ctx.group)
                if due:
                    found += self._settle_boots(due)
            except Exception:
                LOG.exception("Looking at the job queue failed; trying again")
                continue
            if quick:
                self.ctx.signals.work_queued(quick=True)
            for _ in range(found - quick):
                self.ctx.signals.work_queued()

    def _settle_boots(self, due: Collection[int]) -> int:
        """Queue the `settled` report of each deploy whose boot handed over to its volume
        [deploy]boot_settle_time ago with nothing reported since; how many were queued."""
        with self.ctx.db.write() as session:
            taken = tokens.take_settled(session, due)
            for node_id in taken:
                jobs.enqueue(session, node_id, JobKind.BOOT_EVENT, {"event": "settled"})
        return len(taken)

    def run_one(self, kinds: Collection[JobKind] | None = None) -> bool:
        """Claim and run one job (of `kinds`, if given); False when there was none to run."""
        with self.ctx.db.write() as session:
            job = jobs.claim(
                session,
                self.ctx.hostname,
                tuple(self.ctx.registry.profiles),
                kinds,
                group=self.ctx.group,
            )
            if job is None:
                return False
            snapshot = _snapshot_or_none(session, job.node_id, self.ctx)
        try:
            self._run(job, snapshot)
        finally:
            self.ctx.signals.job_finished(job.id)
            if kinds is not None:
                # The node is free: its next job may be one only the other workers take.
                # (A worker of those claims again by itself when its job is done.)
                self.ctx.signals.work_queued()
        return True

    def _run(self, job: jobs.Claimed, snapshot: records.NodeSnapshot | None) -> None:
        result: dict[str, Any] | None = None
        error: str | None = None
        task: NodeTask | None = None
        try:
            task = NodeTask(
                self.ctx,
                job.node_id,
                snapshot,
                holds_lock=not job.kind.shared,
                end_job=lambda session: self._end_job(session, job, released=True),
            )
            try:
                result = FLOWS[job.kind](task, job.args)
            finally:
                task.close()
        except errors.NodeNotFound:
            error = "the node was deleted"
        except errors.LockLost as exc:
            LOG.warning("Job %s (%s) stopped: %s", job.id, job.kind, exc)
            error = str(exc)
        except Exception as exc:
            error = str(exc) if isinstance(exc, errors.IronboundError) else None
            if error is None:
                LOG.exception("Job %s (%s) for node %s crashed", job.id, job.kind, job.node_id)
                error = f"{job.kind} failed: unexpected {type(exc).__name__}: {exc}"
        if task is not None and task.job_ended:
            # The landing ended the job and let the node go: it may be another job's now.
            if error is not None:
                LOG.warning("Job %s (%s) failed after landing: %s", job.id, job.kind, error)
            return
        with self.ctx.db.write() as session:
            self._end_job(session, job, result, error)

    def _end_job(
        self,
        session: Session,
        job: jobs.Claimed,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        *,
        released: bool = False,
    ) -> None:
        """Record a failure, let the node go (unless `released` already), and leave the
        answer or remove the job."""
        if error is not None and not job.kind.synchronous:
            self._record_failure(session, job.node_id, job.kind, error)
        if not (job.kind.shared or released):
            nodes.release(session, job.node_id, self.ctx.hostname)
        if job.kind.synchronous:
            jobs.finish(session, job.id, result=result or {}, error=error)
        else:
            jobs.remove(session, job.id)

    def _record_failure(self, session: Session, node_id: int, kind: JobKind, error: str) -> None:
        """Show a failed job on its node, unless the node is gone or someone else's now
        (taken over or abandoned meanwhile)."""
        node = nodes.find_by_id(session, node_id)
        if node is None or not (kind.shared or node.reservation == self.ctx.hostname):
            return
        fields: dict[str, Any] = {"last_error": error, "target_power_state": None}
        if kind.provision and node.provision_state in states.FAILURE:
            fields["provision_state"] = states.FAILURE[node.provision_state]
            fields["target_provision_state"] = None
        nodes.apply_fields(node, fields)
        LOG.warning("Node %s: %s", node.uuid, error)

    def _progress_loop(self) -> None:
        """Write the progress of steps that run long (see conductor/progress.py)."""
        while not self._stop.wait(progress.DELAY / 2):
            try:
                self.ctx.progress.write_overdue()
            except Exception:
                LOG.exception("Writing the progress of long steps failed; trying again")

    # --- periodic duties --------------------------------------------------------

    def _periodic_loop(self) -> None:
        interval = self.ctx.conf.conductor.heartbeat_interval
        while not self._stop.wait(interval):
            for duty in (
                self._heartbeat,
                self._take_over_dead,
                self._expire_callbacks,
                self._sync_power_states,
                self._sync_storage,
                self.sync_dhcp,
            ):
                try:
                    duty()
                except Exception:
                    LOG.exception("Periodic duty %s failed", duty.__name__)

    def _heartbeat(self) -> None:
        with self.ctx.db.write() as session:
            conductors.heartbeat(session, self.ctx.hostname)
            jobs.purge_stale(session, older_than=self.ctx.conf.conductor.sync_job_timeout * 5)

    def _take_over_dead(self) -> None:
        """Free what conductors that can no longer let go hold.

        Dead ones (online, heartbeat too old) and any other holder that is
        not a live conductor: one that stopped, or a name no conductor has.
        """
        timeout = self.ctx.conf.conductor.heartbeat_timeout
        with self.ctx.db.read() as session:
            # Holders first: under READ COMMITTED each statement sees its own snapshot, and
            # a conductor that dies between the two must still be named as dead, not gone.
            stale = set(conductors.stale_holders(session, timeout))
            dead = set(conductors.dead(session, timeout))
        for hostname in sorted((dead | stale) - {self.ctx.hostname}):
            self._take_over(hostname, "stopped heartbeating" if hostname in dead else "is gone")

    def _take_over(self, hostname: str, why: str) -> None:
        """Free what `hostname` held: fail its half-done nodes, drop its running jobs, and
        queue the clean-up of each deploy it failed."""
        with self.ctx.db.write() as session:
            if hostname != self.ctx.hostname:
                conductors.mark_offline(session, hostname)
            dropped = jobs.drop_running(session, hostname)
            for node in nodes.held_by(session, hostname):
                if node.provision_state in (states.DEPLOYING, states.DELETING):
                    # Its volumes may be exported, its boot token live: detach as after
                    # any failed deploy (or as the undeploy would have), under the node's
                    # lock, once the node is free.
                    action = dropped.get(node.id, {}).get("action")
                    if node.provision_state == states.DELETING:
                        action = UNDEPLOY_ACTION
                    jobs.enqueue(session, node.id, JobKind.ABANDONED_DEPLOY, {"action": action})
                if node.provision_state in states.BUSY_STATES:
                    nodes.apply_fields(
                        node,
                        {
                            "provision_state": states.FAILURE[node.provision_state],
                            "target_provision_state": None,
                            "last_error": f"Conductor {hostname} {why} while the node was "
                            f"in state '{node.provision_state}'; the operation was abandoned.",
                        },
                    )
                node.target_power_state = None
                node.reservation = None
                LOG.warning("Took over node %s from conductor %s (%s)", node.uuid, hostname, why)
        self.ctx.signals.work_queued()

    def _sync_power_states(self) -> None:
        """Every [conductor]sync_power_state_interval: queue a power read per idle node."""
        every = self.ctx.conf.conductor.sync_power_state_interval
        now = time.monotonic()
        if not every or now - self._last_power_sync < every:
            return
        self._last_power_sync = now
        with self.ctx.db.write() as session:
            for node_id in nodes.idle_with_real_power(session, self.ctx.group):
                if not jobs.has_pending(session, node_id, JobKind.SYNC_POWER):
                    jobs.enqueue(session, node_id, JobKind.SYNC_POWER)
        self.ctx.signals.work_queued()

    def _sync_storage(self) -> None:
        """Every [conductor]sync_storage_interval: queue an attachment check per active node
        whose storage interface can compare its attachments with the storage service."""
        every = self.ctx.conf.conductor.sync_storage_interval
        now = time.monotonic()
        if not every or now - self._last_storage_sync < every:
            return
        self._last_storage_sync = now
        self._queue_storage_checks()

    def _queue_storage_checks(self) -> None:
        names = self.ctx.registry.enabled_with("storage", RECONCILES)
        if not names:
            return
        with self.ctx.db.read() as session:
            found = nodes.idle_active_with_storage(session, names, self.ctx.group)
        self._queue_checks(found)

    def _queue_checks(self, node_ids: Iterable[int]) -> None:
        """Queue a storage check for each node that has none pending."""
        with self.ctx.db.write() as session:
            for node_id in node_ids:
                if not jobs.has_pending(session, node_id, JobKind.SYNC_STORAGE):
                    jobs.enqueue(session, node_id, JobKind.SYNC_STORAGE)
        self.ctx.signals.work_queued()

    def _watch_exports(self) -> None:
        """Every [conductor]export_check_interval, give a restarted iSCSI target its
        exports back without waiting for the full storage check (see `_check_exports`).
        0 turns it off (looked at again every heartbeat: options apply as they change)."""
        conf = self.ctx.conf.conductor
        while not self._stop.wait(conf.export_check_interval or conf.heartbeat_interval):
            if not conf.export_check_interval:
                continue
            try:
                self._check_exports()
            except errors.StorageError as exc:
                if not self._target_unseen:
                    LOG.warning(
                        "Conductor %s cannot see its iSCSI target: %s", self.ctx.hostname, exc
                    )
                self._target_unseen = True
            except Exception:
                LOG.exception("Looking at the iSCSI target's exports failed; trying again")

    def _check_exports(self) -> None:
        """One read of what the target should serve, one look at what it does: the storage
        check (which restores the export) only for the active nodes whose export is lost."""
        with self.ctx.db.read() as session:
            expected = managed_volumes.expected_exports(session, self.ctx.group)
        if not expected:
            return  # nothing to look for: the target is not even asked
        live = self._live_exports()
        if self._target_unseen:
            LOG.info("Conductor %s sees its iSCSI target again", self.ctx.hostname)
            self._target_unseen = False
        lost = sorted({n for iqn, ids in expected.items() if iqn not in live for n in ids})
        if lost:
            LOG.warning("The iSCSI target lost the exports of %d active node(s)", len(lost))
            self._queue_checks(lost)

    def _live_exports(self) -> set[str]:
        """What the targets of the storage interfaces that export volumes themselves serve."""
        live: set[str] = set()
        for name in self.ctx.registry.enabled_with("storage", RECONCILES):
            storage = self.ctx.registry.interface("storage", name)
            if isinstance(storage, StorageInterface):
                live |= storage.live_exports() or set()
        return live

    def sync_dhcp(self) -> None:
        """Make the DHCP provider hold exactly the entries of the bootable nodes.

        Flows publish and withdraw entries as they issue and revoke boot
        tokens; this catches the rest: nodes deleted through the API (which
        never imports the conductor), nodes failed by a takeover, a crash
        between a token write and the file write, stray or edited files.
        """
        provider = self.ctx.dhcp
        if not provider.active:
            return
        with provider.lock:  # no flow changes a token between this read and the sync
            with self.ctx.db.read() as session:
                found = tokens.published(session, states.BOOTABLE_STATES)
            provider.sync(
                dhcp.host_entry(self.ctx.conf, uuid, macs, self.ctx.box.open(sealed)["token"])
                for uuid, (sealed, macs) in found.items()
            )

    def _expire_callbacks(self) -> None:
        timeout = self.ctx.conf.conductor.deploy_callback_timeout
        with self.ctx.db.write() as session:
            for node_id in nodes.waiting_longer_than(
                session, states.DEPLOYWAIT, timeout, self.ctx.group
            ):
                if not jobs.has_pending(session, node_id, JobKind.CALLBACK_TIMEOUT):
                    jobs.enqueue(session, node_id, JobKind.CALLBACK_TIMEOUT)
                    self.ctx.signals.work_queued()
