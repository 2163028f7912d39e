"""Validating a node's interfaces: Ironic's validate table, and the step flows start with."""

from __future__ import annotations

import logging
from typing import Any

from ironbound import errors
from ironbound.conductor.task import NodeTask

LOG = logging.getLogger(__name__)


def validate_interfaces(task: NodeTask) -> dict[str, dict[str, object]]:
    """Per interface: result true/false and a reason, as `GET .../validate` shows it."""
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

    task.run_step("validate", check)


def validate(task: NodeTask, args: dict[str, Any]) -> dict[str, Any]:
    """The synchronous validate job: the whole table for the waiting API caller."""
    return validate_interfaces(task)
