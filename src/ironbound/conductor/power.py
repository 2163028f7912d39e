"""Power and management flows, and the synchronous queries the API waits for."""

from __future__ import annotations

from typing import Any

from ironbound import errors
from ironbound.conductor.steps import require_valid, run_step, validate_interfaces
from ironbound.conductor.task import NodeTask


def power(task: NodeTask, args: dict[str, Any]) -> None:
    target = str(args["target"])
    require_valid(task, ("power",))
    run_step(task, f"power action '{target}'", lambda: task.power_action(target))
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


def set_boot_device(task: NodeTask, args: dict[str, Any]) -> dict[str, Any]:
    device, persistent = str(args["boot_device"]), bool(args.get("persistent", False))
    require_valid(task, ("management",))
    run_step(
        task,
        f"set boot device {device}",
        lambda: task.driver.management.set_boot_device(task, device, persistent),
    )
    return {}


def get_boot_device(task: NodeTask, args: dict[str, Any]) -> dict[str, Any]:
    return task.driver.management.get_boot_device(task)


def supported_boot_devices(task: NodeTask, args: dict[str, Any]) -> dict[str, Any]:
    return {"supported_boot_devices": task.driver.management.get_supported_boot_devices(task)}


def validate(task: NodeTask, args: dict[str, Any]) -> dict[str, Any]:
    return validate_interfaces(task)
