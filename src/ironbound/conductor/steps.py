"""Running a named step of a flow, so a failure says which step and why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from ironbound import errors
from ironbound.conductor.task import NodeTask

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class StepFailed(Exception):
    """A flow step failed; `str()` is the text for the node's last_error."""

    def __init__(self, step: str, cause: BaseException) -> None:
        self.step = step
        self.cause = cause
        if isinstance(cause, errors.IronboundError):
            reason = cause.message
        else:
            reason = f"unexpected {type(cause).__name__}: {cause}"
        super().__init__(f"{step} failed: {reason}")


def run_step(task: NodeTask, name: str, func: Callable[[], T]) -> T:
    """Run `func` as step `name`: record it, and turn any error into StepFailed."""
    task.record(f"{name}: started")
    try:
        result = func()
    except StepFailed:
        raise
    except Exception as exc:
        if not isinstance(exc, errors.IronboundError):
            LOG.exception("Step %s of node %s failed unexpectedly", name, task.node.uuid)
        raise StepFailed(name, exc) from exc
    task.record(f"{name}: done")
    return result


def validate_interfaces(task: NodeTask) -> dict[str, dict[str, object]]:
    """Ironic's validate table: per interface, result true/false and a reason."""
    table: dict[str, dict[str, object]] = {}
    for iface in sorted(task.node.interfaces):
        implementation = getattr(task.driver, iface)
        try:
            implementation.validate(task)
        except errors.IronboundError as exc:
            table[iface] = {"result": False, "reason": exc.message}
        except Exception as exc:  # a driver bug must not turn validate into a 500
            LOG.exception("Validation of %s interface of node %s crashed", iface, task.node.uuid)
            table[iface] = {"result": False, "reason": f"Unexpected {type(exc).__name__}: {exc}"}
        else:
            table[iface] = {"result": True, "reason": None}
    return table


def require_valid(task: NodeTask, interfaces: tuple[str, ...]) -> None:
    """Fail the step "validate" unless every named interface validates."""

    def check() -> None:
        table = validate_interfaces(task)
        bad = [
            f"{name}: {table[name]['reason']}" for name in interfaces if not table[name]["result"]
        ]
        if bad:
            raise errors.InvalidParameterValue(reason="; ".join(bad))

    run_step(task, "validate", check)
