"""A conductor killed at a chosen point of a flow, in this process.

A real kill (SIGKILL, tests/managed/test_takeover.py) cannot be aimed between two
statements. Here the flow's thread dies at the point instead: the hook hands the node's
lock and running job to a conductor name that no longer exists, as a dead process leaves
them, and raises `Killed`, which no `except Exception` of the flow or the worker catches
and the wrapped `run_one` swallows. The thread is dead until then: any write, tgtadm
call or power action it still tries (in a `finally`) raises `Killed` again, so nothing
after the point runs, and the in-process conductor takes over as any survivor would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import update

from ironbound import states
from ironbound.conductor.claim import Claim
from ironbound.conductor.task import NodeTask
from ironbound.conductor.worker import Conductor
from ironbound.db import nodes
from ironbound.db.models import Job, Node
from ironbound.db.session import Database
from ironbound.drivers.fake import FakePower
from ironbound.drivers.storage.external import ExternalStorage
from ironbound.drivers.storage.managed.interface import ManagedStorage
from ironbound.drivers.storage.managed.tgt import TgtBackend
from ironbound.jobspec import JobStatus

#: The conductor that "died": no conductor has this name, so any survivor takes over.
GONE = "killed-host"
#: Where a flow can be killed: after tgtd made an export (before its row or the node's
#: record), after a volume target row was added (before the record), before the managed
#: attach records it on the node, in the deploy's power-on, at an undeploy's detach,
#: right after an undeploy's tgtadm removed an export.
POINTS = ("export", "target row", "record", "power on", "detach", "unexported")


class Killed(BaseException):
    """The flow's conductor is dead: nothing of the flow runs any more."""


_THREAD = threading.local()


def _still_dead() -> None:
    """A killed flow's thread does nothing more."""
    if getattr(_THREAD, "dead", False):
        raise Killed("dead")


class Killer:
    """One kill armed at a time, for one node."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.point: str | None = None
        self.node = ""
        self.initiator = ""
        self.fired = threading.Event()

    def arm(self, point: str, node: str, initiator: str) -> None:
        self.point, self.node, self.initiator = point, node, initiator
        self.fired.clear()

    def disarm(self) -> None:
        self.point = None

    def at(self, point: str, applies: bool = True) -> None:
        """Die here if armed for `point` (and the call is the armed node's)."""
        if self.point != point or not applies:
            return
        self.point = None
        with self.db.write() as session:
            node_id = nodes.get_by_uuid(session, self.node).id
            session.execute(update(Node).where(Node.id == node_id).values(reservation=GONE))
            session.execute(
                update(Job)
                .where(Job.node_id == node_id, Job.status == JobStatus.RUNNING)
                .values(conductor=GONE)
            )
        self.fired.set()
        _THREAD.dead = True
        raise Killed(point)


def install(monkeypatch: pytest.MonkeyPatch, conductor: Conductor, killer: Killer) -> None:
    """Put the kill points into the code, and let a killed flow end its worker's turn."""
    run_one = conductor.run_one

    def surviving(kinds: Any = None) -> bool:
        try:
            return run_one(kinds)
        except Killed:
            return True
        finally:
            _THREAD.dead = False  # the worker thread is a new conductor's now

    monkeypatch.setattr(conductor, "run_one", surviving)

    def after(method: Callable[..., Any], point: str, applies: Callable[..., bool]) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            killer.at(point, applies(*args))
            return result

        return wrapped

    def before(method: Callable[..., Any], point: str, applies: Callable[..., bool]) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            killer.at(point, applies(*args))
            return method(*args, **kwargs)

        return wrapped

    def its_node(_: Any, task: Any, *rest: Any) -> bool:
        return bool(task.node.uuid == killer.node)

    def its_task(task: Any, *rest: Any) -> bool:
        return bool(task.node.uuid == killer.node)

    write = Claim.write

    @contextmanager
    def fenced(claim: Claim, *args: Any, **kwargs: Any) -> Iterator[Any]:
        _still_dead()
        with write(claim, *args, **kwargs) as session:
            yield session

    tgtadm = TgtBackend._tgtadm

    def tgtadm_alive(backend: TgtBackend, *args: str, **kwargs: Any) -> str:
        _still_dead()
        return tgtadm(backend, *args, **kwargs)

    monkeypatch.setattr(Claim, "write", fenced)
    monkeypatch.setattr(TgtBackend, "_tgtadm", tgtadm_alive)
    monkeypatch.setattr(
        TgtBackend,
        "export",
        after(TgtBackend.export, "export", lambda _, e: killer.initiator in e.initiators),
    )
    monkeypatch.setattr(
        TgtBackend, "unexport", after(TgtBackend.unexport, "unexported", lambda *_: True)
    )
    monkeypatch.setattr(
        NodeTask, "add_volume_target", after(NodeTask.add_volume_target, "target row", its_task)
    )
    monkeypatch.setattr(ManagedStorage, "_fill", before(ManagedStorage._fill, "record", its_node))
    monkeypatch.setattr(
        FakePower,
        "_take",
        before(FakePower._take, "power on", lambda _, s, t: s == states.POWER_ON),
    )
    for storage in (ManagedStorage, ExternalStorage):
        monkeypatch.setattr(
            storage, "detach_volumes", before(storage.detach_volumes, "detach", its_node)
        )
