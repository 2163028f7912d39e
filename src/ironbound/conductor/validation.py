"""Validating a node's interfaces: Ironic's validate table, and the step flows start with."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ironbound import errors
from ironbound.conductor.task import NodeTask
from ironbound.jobspec import NoArgs

LOG = logging.getLogger(__name__)


def validate_interfaces(
    task: NodeTask, interfaces: Iterable[str] | None = None
) -> dict[str, dict[str, object]]:
    """Per interface (the node's every one, unless `interfaces` names some): result
    true/false and a reason, as `GET .../validate` shows it.

    Only the named ones run: a storage interface's validate may ask a remote service
    (Cinder, once per target), which a power action has no business waiting on.
    """
    names = sorted(task.node.interfaces) if interfaces is None else interfaces
    return {name: _validate(task, name) for name in names}


def _validate(task: NodeTask, iface: str) -> dict[str, object]:
    implementation = getattr(task.driver, iface)
    try:
        implementation.validate(task)
    except errors.IronboundError as exc:
        return {"result": False, "reason": exc.message}
    except Exception as exc:  # a driver bug must not turn validate into a 500
        LOG.exception("Validation of %s interface of node %s crashed", iface, task.node.uuid)
        return {"result": False, "reason": f"Unexpected {type(exc).__name__}: {exc}"}
    return {"result": True, "reason": None}


def require_valid(task: NodeTask, interfaces: tuple[str, ...]) -> None:
    """Fail the step "validate" unless every named interface validates (only those run)."""

    def check() -> None:
        table = validate_interfaces(task, interfaces)
        bad = [f"{name}: {found['reason']}" for name, found in table.items() if not found["result"]]
        if bad:
            raise errors.InvalidParameterValue(reason="; ".join(bad))

    task.run_step("validate", check)


def validate(task: NodeTask, args: NoArgs) -> dict[str, Any]:
    """The synchronous validate job: the whole table for the waiting API caller."""
    return validate_interfaces(task)
