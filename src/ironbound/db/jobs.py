"""The job queue: the API inserts, conductors claim, run and finish.

Claiming picks the oldest queued job whose node is free and which is first
in its node's line, and takes the node's lock in the same transaction. On
PostgreSQL the candidate row is locked with FOR UPDATE SKIP LOCKED so that
many conductors claim concurrently without waiting on each other; SQLite
serialises writers anyway (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from ironbound.db import nodes
from ironbound.db.base import utcnow
from ironbound.db.models import Job, Node
from ironbound.jobspec import FINISHED, PENDING, SHARED_KINDS, JobKind, JobStatus, NoArgs


def enqueue(session: Session, node_id: int, kind: JobKind, args: NoArgs | None = None) -> int:
    """Queue `kind` for the node; runs after every job queued before it for that node.

    `args`: the kind's record (`kind.arguments`), or None for none. Returns
    the job's id. A Core INSERT: the queue is written on every state change.

    :raises TypeError: `args` is not the record `kind` takes.
    """
    if args is not None and type(args) is not kind.arguments:
        raise TypeError(f"A {kind} job takes {kind.arguments.__name__}, not {args!r}")
    values = {
        "node_id": node_id,
        "kind": kind.value,
        "args": {} if args is None else args.row(),
        "status": JobStatus.QUEUED,
    }
    result = session.connection().execute(_ENQUEUE, values)
    return int(result.inserted_primary_key[0])  # type: ignore[index]


# The statements of every job, plain Core on the session's connection: built once, and
# clear of the ORM's execution path, which cost more than the statements themselves.
_JOBS = cast(Table, Job.__table__)
_ENQUEUE = insert(_JOBS)
_START = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"))
    .values(status=JobStatus.RUNNING, conductor=bindparam("conductor"))
)
_REMOVE = delete(_JOBS).where(_JOBS.c.id == bindparam("job_id"))
_EXISTS = select(_JOBS.c.id).where(_JOBS.c.id == bindparam("job_id"))


class Claimed(NamedTuple):
    """A job a conductor now runs, with its arguments as its kind's record."""

    id: int
    node_id: int
    kind: JobKind
    args: NoArgs


def claim(
    session: Session,
    conductor: str,
    hardware_types: Collection[str],
    kinds: Collection[JobKind] | None = None,
    *,
    group: str,
) -> Claimed | None:
    """The next runnable job (of `kinds`, if given) for a node of one of
    `hardware_types` in conductor group `group`, now running under
    `conductor`, or None.

    Exclusive jobs also take the node's lock; shared ones do not. Conductors
    that offer the same hardware type are expected to enable the same
    interfaces for it.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    query = _claim_query(tuple(hardware_types), None if kinds is None else tuple(kinds), postgres)
    row = session.connection().execute(query, {"group": group}).first()
    if row is None:
        return None
    kind = JobKind(row.kind)
    job = Claimed(row.id, row.node_id, kind, kind.arguments.from_row(row.args or {}))
    if job.kind not in SHARED_KINDS and not nodes.reserve(session, job.node_id, conductor):
        return None
    session.connection().execute(_START, {"job_id": job.id, "conductor": conductor})
    return job


def runnable(
    session: Session,
    hardware_types: Collection[str],
    kinds: Collection[JobKind] | None,
    *,
    group: str,
    up_to: int,
) -> int:
    """How many jobs `claim` could hand out now (counting at most `up_to`): a read."""
    query = _claim_query(tuple(hardware_types), None if kinds is None else tuple(kinds), False)
    counted = select(func.count()).select_from(query.limit(up_to).subquery())
    return session.scalar(counted, {"group": group}) or 0


@functools.lru_cache(maxsize=16)
def _claim_query(
    hardware_types: tuple[str, ...], kinds: tuple[JobKind, ...] | None, postgres: bool
) -> Select[tuple[int, int, str, dict[str, Any]]]:
    """claim's query, built once per conductor (building it costs more than running it)."""
    ahead = aliased(Job)
    first_in_line = (
        select(func.min(ahead.id))
        .where(
            ahead.node_id == Job.node_id,
            ahead.status.in_(PENDING),
            ahead.kind.not_in(SHARED_KINDS),
        )
        .scalar_subquery()
    )
    query = (
        select(Job.id, Job.node_id, Job.kind, Job.args)
        .join(Node, Node.id == Job.node_id)
        .where(
            Job.status == JobStatus.QUEUED,
            Node.driver.in_(hardware_types),
            Node.conductor_group == bindparam("group"),
            or_(
                Job.kind.in_(SHARED_KINDS),
                (Node.reservation.is_(None)) & (Job.id == first_in_line),
            ),
        )
        .order_by(Job.id)
        .limit(1)
    )
    if kinds is not None:
        query = query.where(Job.kind.in_(kinds))
    if postgres:
        query = query.with_for_update(of=Job, skip_locked=True)
    return query


def finish(
    session: Session, job_id: int, *, result: dict[str, Any] | None = None, error: str | None = None
) -> None:
    """Record a synchronous job's outcome, kept for its caller (`take_result`); an
    asynchronous job is removed instead (`remove`)."""
    job = session.get(Job, job_id)
    if job is None:
        return
    job.status = JobStatus.FAILED if error is not None else JobStatus.DONE
    job.result = result
    job.error = error
    job.finished_at = utcnow()


def take_result(session: Session, job_id: int) -> Job | None:
    """A finished job for its waiting caller, deleted as it is read; None while unfinished."""
    job = session.get(Job, job_id)
    if job is None or job.status in PENDING:
        return None
    session.delete(job)
    return job


def cancel(session: Session, job_id: int) -> None:
    """Withdraw a job nobody will wait for any more (if no conductor took it yet)."""
    session.execute(delete(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED))


def purge_stale(session: Session, older_than: float) -> None:
    """Delete finished results that no caller came for within `older_than` seconds."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than)
    session.execute(delete(Job).where(Job.status.in_(FINISHED), Job.finished_at < cutoff))


def drop_running(session: Session, conductor: str) -> dict[int, NoArgs]:
    """Forget the jobs a dead conductor was running (their nodes are failed separately);
    node id -> the arguments of the job it ran (a deploy's tell whether it rebuilt)."""
    running = Job.status == JobStatus.RUNNING, Job.conductor == conductor
    found = {
        job.node_id: JobKind(job.kind).arguments.from_row(job.args or {})
        for job in session.scalars(select(Job).where(*running))
    }
    session.execute(delete(Job).where(*running))
    return found


def remove(session: Session, job_id: int) -> None:
    """Delete a finished asynchronous job (if it is still there)."""
    session.connection().execute(_REMOVE, {"job_id": job_id})


def exists(session: Session, job_id: int) -> bool:
    return session.connection().execute(_EXISTS, {"job_id": job_id}).first() is not None


def is_pending(session: Session, job_id: int) -> bool:
    """Whether the job is still queued or running (False once finished or gone)."""
    status = session.scalar(select(Job.status).where(Job.id == job_id))
    return status in PENDING


def pending_id(session: Session, node_id: int, kind: JobKind) -> int | None:
    """The first job of `kind` still pending for the node, if any."""
    found: int | None = session.scalar(
        select(Job.id)
        .where(Job.node_id == node_id, Job.kind == kind, Job.status.in_(PENDING))
        .order_by(Job.id)
        .limit(1)
    )
    return found


def has_pending(session: Session, node_id: int, kind: JobKind) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.node_id == node_id, Job.kind == kind, Job.status.in_(PENDING))
        )
        or 0
    ) > 0
