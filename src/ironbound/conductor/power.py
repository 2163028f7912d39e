"""Power flows: a requested power action, and the periodic power state sync."""

from __future__ import annotations

from typing import Any

from ironbound import errors
from ironbound.conductor.task import NodeTask
from ironbound.conductor.validation import require_valid


def power(task: NodeTask, args: dict[str, Any]) -> None:
    target, timeout = str(args["target"]), args.get("timeout")
    require_valid(task, ("power",))
    task.run_step(f"power action '{target}'", lambda: task.power_action(target, timeout))
    task.save(last_error=None)


def sync(task: NodeTask, args: dict[str, Any]) -> None:
    """Record the power state the BMC reports, when it changed behind our back.

    Unlike Ironic (force_power_state_during_sync), the node is not forced
    back: the change is recorded and shown, and the operator decides.
    """
    try:
        actual = task.driver.power.get_power_state(task)
    except errors.IronboundError as exc:
        task.record(
            f"power state sync: the BMC could not be read: {exc.message}", severity="warning"
        )
        return
    if actual != task.node.power_state:
        task.record(
            f"power state sync: the BMC reports {actual}, recorded was {task.node.power_state}",
            event_type="power",
            severity="warning",
        )
        task.save(power_state=actual)
