"""A claimed job: the one owner of its node's lock, of the fence on every write, and of
the job's end.

    claim = Claim.take(ctx, kinds)          # the job, the node's lock, its snapshot
    if claim is not None:
        with claim:                         # ends the job, whatever the flow does
            claim.result = flow(NodeTask(claim), claim.job.args)

Every write of the flow passes `Claim.write`: it checks that the lock is
still this conductor's (a flow that outlived its conductor's stop, or was
taken over, stops there) and carries the progress records kept since the
last write. The landing (`NodeTask.land`, a `write(..., landing=True)`) is
the flow's last write: the new state, the lock's release (in the same
UPDATE) and the job's end are one transaction. A flow
that returns without landing, or fails, is ended by the claim's exit in one
transaction too: the failure shown on the node, the lock released, the job
removed (or, for a synchronous kind, its answer left for the caller). The
exit swallows the flow's error once it is recorded: the worker goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session

from ironbound import errors, records, states
from ironbound.conductor.context import ConductorContext
from ironbound.db import events, jobs, nodes, snapshots
from ironbound.db.base import utcnow
from ironbound.jobspec import JobKind

LOG = logging.getLogger(__name__)

#: Node columns a write sets, computed from the node as its fence read it.
Fields = Callable[[nodes.Held], Mapping[str, Any]]


class Claim:
    """One job this conductor runs, on its node."""

    def __init__(
        self, ctx: ConductorContext, job: jobs.Claimed, snapshot: records.NodeSnapshot | None
    ) -> None:
        """`snapshot`: the node as read in the claim's transaction (None: the task loads it)."""
        self.ctx = ctx
        self.job = job
        self.snapshot = snapshot
        #: What a synchronous job answers its caller.
        self.result: dict[str, Any] | None = None
        #: The job has ended (landed): its lock may be another job's of this conductor now.
        self.ended = False
        #: The node's UUID, for messages (as last seen).
        self.node_uuid = str(job.node_id) if snapshot is None else snapshot.node.uuid
        self._progress: list[events.Progress] = []  # see conductor/progress.py
        # One write at a time: the flow's own, or the progress thread's.
        self._writing = threading.RLock()

    @classmethod
    def take(cls, ctx: ConductorContext, kinds: Collection[JobKind] | None = None) -> Claim | None:
        """Claim the next runnable job (of `kinds`, if given): the job, the node's lock
        (unless the kind is shared) and the node's snapshot, in one transaction."""
        with ctx.db.write() as session:
            job = jobs.claim(
                session, ctx.hostname, tuple(ctx.registry.profiles), kinds, group=ctx.group
            )
            if job is None:
                return None
            return cls(ctx, job, _snapshot_or_none(session, job.node_id, ctx))

    @property
    def holder(self) -> str | None:
        """The lock every write checks: ours, or none for a shared (read-only) kind."""
        return None if self.job.kind.shared else self.ctx.hostname

    # --- the fence -------------------------------------------------------------

    @contextmanager
    def write(self, fields: Fields | None = None, *, landing: bool = False) -> Iterator[Session]:
        """A write transaction, fenced: it fails with LockLost once the node's lock is gone.

        The progress records kept so far go in the same transaction, and with
        `fields` (node columns, given the node as held) in one UPDATE. A
        `landing` also lets the node go in that UPDATE and ends the job.
        """
        with self._writing:
            if self.ended:  # its lock may be another job's of this conductor now
                raise errors.LockLost(host=self.ctx.hostname, node=self.node_uuid)
            kept = list(self._progress)
            with self.ctx.db.write() as session:
                held = nodes.check_held(session, self.job.node_id, self.holder)
                self.node_uuid = held.uuid
                shown: dict[str, Any] = {}
                if kept:
                    held, shown = nodes.record_progress(session, held, kept, self.ctx.hostname)
                values = {} if fields is None else dict(fields(held))
                if landing and self.holder is not None:
                    values["reservation"] = None  # let go in the same UPDATE
                if values or shown:
                    nodes.write_fields(session, held, values, shown)
                if landing:
                    self._end_job(session)
                yield session
            if landing:
                self.ended = True
            del self._progress[: len(kept)]
            if not self._progress:
                self.ctx.progress.discard(self)

    def record(self, record: events.Progress) -> None:
        """Keep a progress record for the next write (or the progress thread's)."""
        with self._writing:
            self._progress.append(record)
        self.ctx.progress.add(self)

    def write_progress(self, older_than: float, *, wait: bool) -> None:
        """Write the progress records kept, if the oldest is older than `older_than` seconds.

        `wait` False (the progress thread): skip a claim that is writing now,
        its records go with that write. Records of a node that is gone or no
        longer ours are dropped: the flow finds that out by itself.
        """
        if not self._writing.acquire(blocking=wait):
            return
        try:
            if self._progress and (utcnow() - self._progress[0].at).total_seconds() >= older_than:
                with self.write():
                    pass
        except (errors.LockLost, errors.NodeNotFound):
            self._progress.clear()
            self.ctx.progress.discard(self)
        finally:
            self._writing.release()

    # --- the job's end ----------------------------------------------------------

    def __enter__(self) -> Claim:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """End the job unless its landing did: the flow's error, if any, is recorded
        (and swallowed); anything but an Exception goes on up."""
        if exc is not None and not isinstance(exc, Exception):
            return False
        try:
            self.write_progress(0.0, wait=True)  # what the flow still kept
        except Exception as late:  # the flow's own error, if any, is the one to show
            exc = exc or late
        finally:
            self.ctx.progress.discard(self)
        error = None if exc is None else self._error(exc)
        if self.ended:
            if error is not None:
                LOG.warning("Job %s (%s) failed after landing: %s", *self._named(), error)
            return True
        with self.ctx.db.write() as session:
            if error is not None and not self.job.kind.synchronous:
                self._show_failure(session, error)
            if self.holder is not None:
                nodes.release(session, self.job.node_id, self.holder)
            self._end_job(session, error)
        return True

    def _named(self) -> tuple[int, JobKind]:
        return self.job.id, self.job.kind

    def _error(self, exc: BaseException) -> str:
        """What last_error (or the caller's answer) says of the exception that ended a flow."""
        if isinstance(exc, errors.NodeNotFound):
            return "the node was deleted"
        if isinstance(exc, errors.LockLost):
            LOG.warning("Job %s (%s) stopped: %s", *self._named(), exc)
            return str(exc)
        if isinstance(exc, errors.IronboundError):
            return str(exc)
        LOG.error(
            "Job %s (%s) for node %s crashed",
            *self._named(),
            self.job.node_id,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        return f"{self.job.kind} failed: unexpected {type(exc).__name__}: {exc}"

    def _show_failure(self, session: Session, error: str) -> None:
        """Show a failed job on its node: last_error, and for a provision flow the state
        table's failure state; unless the node is gone or someone else's now (taken over or
        abandoned meanwhile)."""
        try:
            held = nodes.check_held(session, self.job.node_id, self.holder)
        except (errors.NodeNotFound, errors.LockLost):
            return
        fields: dict[str, Any] = {"last_error": error, "target_power_state": None}
        if self.job.kind.provision and held.provision_state in states.FAILURE:
            fields["provision_state"] = states.FAILURE[held.provision_state]
            fields["target_provision_state"] = None
        nodes.write_fields(session, held, fields)
        LOG.warning("Node %s: %s", held.uuid, error)

    def _end_job(self, session: Session, error: str | None = None) -> None:
        """Leave the answer for a synchronous job's caller, or remove the job."""
        if self.job.kind.synchronous:
            jobs.finish(session, self.job.id, result=self.result or {}, error=error)
        else:
            jobs.remove(session, self.job.id)


def _snapshot_or_none(
    session: Session, node_id: int, ctx: ConductorContext
) -> records.NodeSnapshot | None:
    """The node as its job is claimed, in the claim's transaction (one transaction fewer
    per job); None if it cannot be read there: the task then loads it, and fails, itself."""
    try:
        return snapshots.load(session, node_id, ctx.box)
    except (errors.IronboundError, ValueError):  # gone, or its secrets unreadable
        return None
