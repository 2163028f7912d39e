"""Provision and power states, and the one table of provision transitions.

The API and the conductor share this module: the API refuses a verb that the
table does not allow from the node's current state before any work starts,
and the conductor uses the same table to know where a flow lands on success,
on waiting and on failure. State names are Ironic's, character for character,
because clients compare them as strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from ironbound.jobspec import JobKind

ENROLL = "enroll"
VERIFYING = "verifying"
MANAGEABLE = "manageable"
INSPECTING = "inspecting"
INSPECTFAIL = "inspect failed"
CLEANING = "cleaning"
CLEANFAIL = "clean failed"
AVAILABLE = "available"
DEPLOYING = "deploying"
DEPLOYWAIT = "wait call-back"
DEPLOYFAIL = "deploy failed"
ACTIVE = "active"
DELETING = "deleting"
ERROR = "error"
ADOPTING = "adopting"
ADOPTFAIL = "adopt failed"
INSPECTWAIT = "inspect wait"

POWER_ON = "power on"
POWER_OFF = "power off"
REBOOT = "rebooting"
SOFT_POWER_OFF = "soft power off"
SOFT_REBOOT = "soft rebooting"

#: Power targets the API accepts, with the microversion each needs.
POWER_TARGETS: dict[str, int] = {
    POWER_ON: 1,
    POWER_OFF: 1,
    REBOOT: 1,
    SOFT_POWER_OFF: 27,
    SOFT_REBOOT: 27,
}

#: The power state a node shows as its target while an action runs.
POWER_TARGET_AFTER_ACTION: dict[str, str] = {
    REBOOT: POWER_ON,
    SOFT_REBOOT: POWER_ON,
    SOFT_POWER_OFF: POWER_OFF,
}


@dataclass(frozen=True)
class Transition:
    """What a provision verb does from one source state.

    busy: the state the node sits in while a conductor works on it, or None
          when the verb lands on `target` at once.
    target: where the node ends up when the work succeeds.
    job: the conductor flow that does the work, or None for a pure state change.
    min_version: the API microversion that introduced the verb.
    calls_off: the verb stops the flow running on the node: its job is queued behind
          that flow without waiting for the node's lock, and the state is left to
          the flow, which fails (the job then finishes what the verb does).
    """

    busy: str | None
    target: str
    job: JobKind | None
    min_version: int = 1
    calls_off: bool = False


_ROWS: tuple[tuple[str, tuple[str, ...], Transition], ...] = (
    # verb       from                                        busy        target      job
    ("manage", (ENROLL,), Transition(VERIFYING, MANAGEABLE, JobKind.VERIFY, 4)),
    ("manage", (AVAILABLE, CLEANFAIL, INSPECTFAIL, ADOPTFAIL, MANAGEABLE),
     Transition(None, MANAGEABLE, None, 4)),
    ("provide", (MANAGEABLE,), Transition(CLEANING, AVAILABLE, JobKind.CLEAN, 4)),
    ("inspect", (MANAGEABLE, INSPECTFAIL), Transition(INSPECTING, MANAGEABLE, JobKind.INSPECT, 6)),
    ("clean", (MANAGEABLE,), Transition(CLEANING, MANAGEABLE, JobKind.CLEAN, 15)),
    ("adopt", (MANAGEABLE, ADOPTFAIL), Transition(ADOPTING, ACTIVE, JobKind.ADOPT, 17)),
    ("active", (AVAILABLE, DEPLOYFAIL), Transition(DEPLOYING, ACTIVE, JobKind.DEPLOY, 1)),
    ("rebuild", (ACTIVE, DEPLOYFAIL), Transition(DEPLOYING, ACTIVE, JobKind.DEPLOY, 1)),
    ("deleted", (ACTIVE, DEPLOYFAIL, DEPLOYWAIT, ERROR),
     Transition(DELETING, AVAILABLE, JobKind.UNDEPLOY, 1)),
    # A deploy waiting for its boot to report back can be called off: the node
    # lands in "deploy failed" at once and a job powers it off and revokes its
    # boot script.
    ("abort", (DEPLOYWAIT,), Transition(None, DEPLOYFAIL, JobKind.ABORT, 13)),
    # A deploy still at work (fetching or writing its image) is called off: it
    # sees the queued abort within a second, fails, and the abort job powers
    # the node off.
    ("abort", (DEPLOYING,), Transition(None, DEPLOYFAIL, JobKind.ABORT, 13, calls_off=True)),
)  # fmt: skip

TRANSITIONS: dict[tuple[str, str], Transition] = {
    (verb, source): transition for verb, sources, transition in _ROWS for source in sources
}


@dataclass(frozen=True)
class Unsupported:
    """An Ironic verb that no interface here carries out.

    sources: the states Ironic's state machine accepts the verb from; from
             these the verb fails as Ironic's does on a node whose interface
             cannot do it, from any other as a verb the state does not allow.
    min_version: the API microversion that introduced the verb.
    """

    sources: tuple[str, ...]
    min_version: int


#: Rescue needs a rescue ramdisk, which a node booting from a volume does not
#: have: every hardware type's rescue interface is `no-rescue`. A node is
#: therefore never in Ironic's "rescue" states, from which unrescue starts.
UNSUPPORTED: dict[str, Unsupported] = {
    "rescue": Unsupported((ACTIVE,), 38),
    "unrescue": Unsupported((), 38),
}

VERBS: frozenset[str] = frozenset(verb for verb, _, _ in _ROWS) | frozenset(UNSUPPORTED)


def first_version(verb: str) -> int:
    """The microversion in which `verb` (one of VERBS) appeared."""
    if verb in UNSUPPORTED:
        return UNSUPPORTED[verb].min_version
    return min(t.min_version for (name, _), t in TRANSITIONS.items() if name == verb)


#: Where a busy state lands when its flow fails.
FAILURE: dict[str, str] = {
    VERIFYING: ENROLL,
    CLEANING: CLEANFAIL,
    INSPECTING: INSPECTFAIL,
    ADOPTING: ADOPTFAIL,
    DEPLOYING: DEPLOYFAIL,
    DEPLOYWAIT: DEPLOYFAIL,
    DELETING: ERROR,
}

#: States in which a conductor holds the node; if that conductor dies, the
#: survivors move the node to its FAILURE state with a reason.
BUSY_STATES: frozenset[str] = frozenset(FAILURE) - {DEPLOYWAIT}

STABLE_STATES: frozenset[str] = frozenset(
    {ENROLL, MANAGEABLE, AVAILABLE, ACTIVE, ERROR, DEPLOYFAIL, CLEANFAIL, INSPECTFAIL, ADOPTFAIL}
)

#: A node may be deleted in these states (or in maintenance).
DELETE_ALLOWED_STATES: tuple[str, ...] = (MANAGEABLE, ENROLL, ADOPTFAIL, AVAILABLE)

#: Volume connectors and targets may be deleted in these states whatever the
#: power state (otherwise the node must be powered off).
VOLUME_DELETE_ALLOWED_STATES: tuple[str, ...] = (MANAGEABLE, ENROLL, ADOPTFAIL, AVAILABLE)

#: The storage interface may be changed only in these states (or in maintenance).
STORAGE_UPDATE_ALLOWED_STATES: tuple[str, ...] = (
    ENROLL,
    INSPECTING,
    INSPECTWAIT,
    MANAGEABLE,
    AVAILABLE,
)

#: States in which a node's boot script may be served.
BOOTABLE_STATES: frozenset[str] = frozenset({DEPLOYING, DEPLOYWAIT, ACTIVE})


def transition_for(verb: str, source: str) -> Transition | None:
    """The transition `verb` takes from `source`, or None if the table forbids it."""
    return TRANSITIONS.get((verb, source))


#: A node may be made protected (API 1.48) only while deployed. Ironic also
#: allows `rescue`, a state Ironbound's table does not have.
PROTECTABLE_STATES: tuple[str, ...] = (ACTIVE,)

#: The provision verbs a protected node refuses (undeploy and rebuild; Ironic's NodeProtected).
PROTECTED_VERBS: frozenset[str] = frozenset({"deleted", "rebuild"})

#: Why a conductor put a node into maintenance (a node's `fault`, API 1.42): Ironic's names.
FAULTS: tuple[str, ...] = (
    "power failure",
    "clean failure",
    "rescue abort failure",
    "service failure",
)

#: States in which a node's `deploy_step` (API 1.44) names the running step.
DEPLOY_STEP_STATES: frozenset[str] = frozenset({DEPLOYING, DEPLOYWAIT})
