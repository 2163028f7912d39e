"""Power and management flows, and the synchronous queries the API waits for."""

from __future__ import annotations

from typing import Any

from ironbound.conductor.steps import require_valid, run_step, validate_interfaces
from ironbound.conductor.task import NodeTask


def power(task: NodeTask, args: dict[str, Any]) -> None:
    target = str(args["target"])
    require_valid(task, ("power",))
    run_step(task, f"power action '{target}'", lambda: task.power_action(target))
    task.save(last_error=None)


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
