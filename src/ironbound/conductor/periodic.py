"""The conductor's periodic duties: what it does on a timer, beside the jobs it runs.

Every heartbeat interval: the heartbeat (and the purge of results nobody
took), taking over from dead conductors (`conductor/takeover.py`), the
callback timeouts, the power and storage checks (each on its own interval)
and the DHCP reconcile. The queue watch's look (jobs other processes queued,
boots due to settle) and the export watch's look (an iSCSI target that lost
its exports) run on their own threads, at their own intervals. A duty
queues jobs; it never runs a driver on a node (that needs the node's lock).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable

from ironbound import dhcp, errors, states
from ironbound.conductor import takeover
from ironbound.conductor.context import ConductorContext
from ironbound.db import conductors, jobs, managed_volumes, nodes, tokens
from ironbound.drivers.base import RECONCILES, StorageInterface
from ironbound.jobspec import SYNCHRONOUS_KINDS, BootEvent, JobKind

LOG = logging.getLogger(__name__)


class Duties:
    """The periodic duties of one conductor, with what they remember between runs."""

    def __init__(self, ctx: ConductorContext) -> None:
        self.ctx = ctx
        self._last_power_sync = time.monotonic()
        self._last_storage_sync = time.monotonic()
        #: Whether the last look at the iSCSI target failed (logged once, not every look).
        self._target_unseen = False

    def tick(self) -> None:
        """Run every duty of the heartbeat interval; one that fails does not stop the rest."""
        duties: tuple[Callable[[], None], ...] = (
            self._heartbeat,
            self._take_over_dead,
            self._expire_callbacks,
            self._sync_power_states,
            self._sync_storage,
            self.sync_dhcp,
        )
        for duty in duties:
            try:
                duty()
            except Exception:
                LOG.exception("Periodic duty %s failed", duty.__name__)

    def _heartbeat(self) -> None:
        with self.ctx.db.write() as session:
            conductors.heartbeat(session, self.ctx.hostname)
            jobs.purge_stale(session, older_than=self.ctx.conf.conductor.sync_job_timeout * 5)

    def _take_over_dead(self) -> None:
        takeover.take_over_dead(self.ctx)

    def _expire_callbacks(self) -> None:
        timeout = self.ctx.conf.conductor.deploy_callback_timeout
        with self.ctx.db.write() as session:
            for node_id in nodes.waiting_longer_than(
                session, states.DEPLOYWAIT, timeout, self.ctx.group
            ):
                if not jobs.has_pending(session, node_id, JobKind.CALLBACK_TIMEOUT):
                    jobs.enqueue(session, node_id, JobKind.CALLBACK_TIMEOUT)
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
        self.queue_storage_checks()

    def queue_storage_checks(self) -> None:
        """A storage check for every active node whose storage interface reconciles."""
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

    # --- the queue watch's look ----------------------------------------------------

    def look_at_queue(self) -> None:
        """Wake a worker for each job this conductor could run, and settle the boots that
        are due to (see `_settle_boots`).

        Jobs queued by other processes (an `ironbound api` beside this
        conductor) wake nobody here. One cheap read per interval looks for
        them, instead of every idle worker trying to claim (a write) on its own.
        """
        conf = self.ctx.conf.conductor
        types = tuple(self.ctx.registry.profiles)
        with self.ctx.db.read() as session:
            found = jobs.runnable(
                session, types, None, group=self.ctx.group, up_to=conf.workers_pool_size
            )
            quick = jobs.runnable(session, types, SYNCHRONOUS_KINDS, group=self.ctx.group, up_to=1)
            due = tokens.settle_due(session, states.DEPLOYWAIT, self.ctx.group)
        if due:
            found += self._settle_boots(due)
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
                jobs.enqueue(session, node_id, JobKind.BOOT_EVENT, BootEvent(BootEvent.SETTLED))
        return len(taken)

    # --- the export watch's look ----------------------------------------------------

    def look_at_exports(self) -> None:
        """Give a restarted iSCSI target its exports back without waiting for the full
        storage check (see `_check_exports`); a target that cannot be seen is logged once."""
        try:
            self._check_exports()
        except errors.StorageError as exc:
            if not self._target_unseen:
                LOG.warning("Conductor %s cannot see its iSCSI target: %s", self.ctx.hostname, exc)
            self._target_unseen = True

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
