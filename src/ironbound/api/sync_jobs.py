"""Waiting for conductors: answers the API needs (validate, boot device), and settling.

The API never touches hardware; for the few calls Ironic answers
synchronously it queues a job and waits, bounded by
[conductor]sync_job_timeout, for a conductor to leave the answer in the row.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from anyio import to_thread

from ironbound import errors
from ironbound.api import driver_checks, problems
from ironbound.api.services import ApiServices
from ironbound.db import jobs, nodes
from ironbound.jobspec import JobKind, NoArgs

_POLL = 0.05
#: How often a settling caller with a conductor in its process looks at the row: only
#: for a job that a conductor elsewhere took (or that finished before the watch began).
_POLL_BESIDE_CONDUCTOR = 0.25


async def ask(
    services: ApiServices, node_id: int, kind: JobKind, args: NoArgs | None = None
) -> dict[str, Any]:
    """The conductor's answer to job `kind` for the node.

    The caller waits on the event loop, not in a thread: each look at the
    row borrows a threadpool thread only for that transaction, so callers
    waiting for slow or absent conductors cannot exhaust the pool.

    :raises DriverError: the conductor ran the job and it failed (the BMC
        refused, say); the message says why.
    :raises TemporaryFailure: no conductor answered in time.
    :raises NotFound: the node was deleted before a conductor answered.
    """
    job_id = await to_thread.run_sync(_enqueue, services, node_id, kind, args)
    services.signals.work_queued(quick=True)
    deadline = time.monotonic() + services.conf.conductor.sync_job_timeout
    while (answer := await to_thread.run_sync(_answer, services, job_id, deadline)) is None:
        await anyio.sleep(_POLL)
    return answer


def _enqueue(services: ApiServices, node_id: int, kind: JobKind, args: NoArgs | None) -> int:
    # Checked in a read, before the write: many callers at once queue their writes
    # behind each other, so what each holds the write lock for must stay minimal.
    with services.db.read() as session:
        driver_checks.require_conductor(services, nodes.get_by_id(session, node_id))
    with services.db.write() as session:
        nodes.get_by_id(session, node_id)  # deleted meanwhile: NotFound, not a broken key
        return jobs.enqueue(session, node_id, kind, args)


def _answer(services: ApiServices, job_id: int, deadline: float) -> dict[str, Any] | None:
    """The job's result, or None while it is still to come; see `ask` for the errors.

    Each look while the job is pending is a read: only the answer (or giving
    up) takes the write lock, so waiting callers do not queue other writers.
    """
    if time.monotonic() < deadline:
        with services.db.read() as session:
            if jobs.is_pending(session, job_id):
                return None
    with services.db.write() as session:
        job = jobs.take_result(session, job_id)
        if job is not None:
            if job.error is not None:
                raise errors.DriverError(reason=job.error)
            return dict(job.result or {})
        if not jobs.exists(session, job_id):
            # Deleting the node deleted its queued jobs: nobody will answer.
            raise problems.NodeDeletedWhileWaiting()
        if time.monotonic() >= deadline:
            jobs.cancel(session, job_id)
            raise problems.NoConductorAnswered(timeout=services.conf.conductor.sync_job_timeout)
    return None


def settle(services: ApiServices, job_id: int) -> None:
    """Give a just-queued job up to [api]settle_time to finish (see that option).

    An in-process conductor wakes this caller when this job finishes, so
    beside one the row is looked at only now and then; without one, every
    _POLL seconds. Under a fleet's load the looks were a seventh of the
    server's CPU.
    """
    signals = services.signals
    poll = _POLL_BESIDE_CONDUCTOR if signals.conductor_running else _POLL
    deadline = time.monotonic() + services.conf.api.settle_time
    with signals.watch(job_id) as finished:
        signals.work_queued()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or finished.wait(min(poll, remaining)):
                return
            with services.db.read() as session:
                if not jobs.exists(session, job_id):
                    return
