"""The kinds of job a conductor runs, how each may run, and the states of a job row.

Every room speaks of jobs: the API and the boot server queue them, the
database claims them, the conductor runs them. This module is the one
registry of what each kind is; the conductor's flow table
(`conductor/flows.py`) maps every kind here to the function that runs it.
"""

from __future__ import annotations

from enum import StrEnum


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


class JobKind(StrEnum):
    """A job's kind, with how it runs.

    provision: its failure moves the node out of its busy provision state
        (to the state table's failure state).
    shared: it only reads the node, so it runs beside an exclusive job and
        takes no lock (like Ironic's shared locks).
    synchronous: an API caller waits for its answer; the row is kept, with
        the result, until the caller takes it.
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


SHARED_KINDS: tuple[JobKind, ...] = tuple(kind for kind in JobKind if kind.shared)
SYNCHRONOUS_KINDS: tuple[JobKind, ...] = tuple(kind for kind in JobKind if kind.synchronous)
