"""The kinds of job a conductor runs, how each may run, what each takes, and the states
of a job row.

Every room speaks of jobs: the API and the boot server queue them, the
database claims them, the conductor runs them. This module is the one
registry of what each kind is and of the arguments it carries (a frozen
record per kind, stored as a JSON object in the row); the conductor's flow
table (`conductor/flows.py`) maps every kind here to the function that runs
it, which takes that record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


#: A job in these statuses is still ahead of later jobs for its node.
PENDING = (JobStatus.QUEUED, JobStatus.RUNNING)
#: A synchronous job in these statuses holds an answer for its caller.
FINISHED = (JobStatus.DONE, JobStatus.FAILED)
#: The `action` of an `abandoned_deploy` job that cleans up after an undeploy.
UNDEPLOY_ACTION = "undeploy"


@dataclass(frozen=True)
class NoArgs:
    """The arguments of a kind that takes none; the base of every kind's arguments."""

    def row(self) -> dict[str, Any]:
        """The arguments as the job row stores them."""
        return asdict(self)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> NoArgs:
        """The arguments a job row stores (keys this record does not know are ignored)."""
        return cls()


@dataclass(frozen=True)
class Provision(NoArgs):
    """A provision job: the API verb that queued it (a deploy's tells a rebuild)."""

    action: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Provision:
        action = row.get("action")
        return cls(None if action is None else str(action))


@dataclass(frozen=True)
class Power(NoArgs):
    """A power action: Ironic's target power state, and its timeout in seconds."""

    target: str
    timeout: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Power:
        timeout = row.get("timeout")
        return cls(str(row["target"]), None if timeout is None else float(timeout))


@dataclass(frozen=True)
class BootDevice(NoArgs):
    """A boot device to set, and whether it stays set after the next boot."""

    boot_device: str
    persistent: bool = False

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> BootDevice:
        return cls(str(row["boot_device"]), bool(row.get("persistent", False)))


@dataclass(frozen=True)
class BootEvent(NoArgs):
    """A report about a booting node: what happened (`event`), with what the reporter
    added (the address, iPXE's errno...), all text."""

    #: The event the conductor's queue watch reports for a boot that settled.
    SETTLED: ClassVar[str] = "settled"

    event: str
    details: Mapping[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {**self.details, "event": self.event}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> BootEvent:
        report = {str(key): str(value) for key, value in row.items()}
        return cls(report.pop("event", ""), report)


class JobKind(StrEnum):
    """A job's kind, with how it runs.

    provision: its failure moves the node out of its busy provision state
        (to the state table's failure state).
    shared: it only reads the node, so it runs beside an exclusive job and
        takes no lock (like Ironic's shared locks).
    synchronous: an API caller waits for its answer; the row is kept, with
        the result, until the caller takes it.
    arguments: the record of what a job of this kind takes (`NoArgs` if nothing).
    """

    provision: bool
    shared: bool
    synchronous: bool

    def __new__(
        cls, value: str, provision: bool = False, shared: bool = False, synchronous: bool = False
    ) -> JobKind:
        member = str.__new__(cls, value)
        member._value_ = value
        member.provision = provision
        member.shared = shared
        member.synchronous = synchronous
        return member

    # value                  provision  shared  synchronous
    VERIFY = "verify", True
    CLEAN = "clean", True
    INSPECT = "inspect", True
    ADOPT = "adopt", True
    DEPLOY = "deploy", True
    UNDEPLOY = "undeploy", True
    ABORT = "abort"
    #: The clean-up of a deploy a takeover failed (its conductor died or stopped mid-deploy),
    #: or of an undeploy (its `action` then `UNDEPLOY_ACTION`).
    ABANDONED_DEPLOY = "abandoned_deploy"
    BOOT_EVENT = "boot_event"
    CALLBACK_TIMEOUT = "callback_timeout"
    POWER = "power"
    SYNC_POWER = "sync_power"
    SYNC_STORAGE = "sync_storage"
    RELEASE_STORAGE = "release_storage", False, False, True
    SET_BOOT_DEVICE = "set_boot_device", False, False, True
    INJECT_NMI = "inject_nmi", False, False, True
    GET_BOOT_DEVICE = "get_boot_device", False, True, True
    SUPPORTED_BOOT_DEVICES = "supported_boot_devices", False, True, True
    VALIDATE = "validate", False, True, True

    @property
    def arguments(self) -> type[NoArgs]:
        return _ARGUMENTS.get(self, NoArgs)


_ARGUMENTS: Mapping[JobKind, type[NoArgs]] = {
    **{kind: Provision for kind in JobKind if kind.provision},
    JobKind.ABORT: Provision,
    JobKind.ABANDONED_DEPLOY: Provision,
    JobKind.BOOT_EVENT: BootEvent,
    JobKind.POWER: Power,
    JobKind.SET_BOOT_DEVICE: BootDevice,
}

SHARED_KINDS: tuple[JobKind, ...] = tuple(kind for kind in JobKind if kind.shared)
SYNCHRONOUS_KINDS: tuple[JobKind, ...] = tuple(kind for kind in JobKind if kind.synchronous)
