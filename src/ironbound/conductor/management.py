"""Boot device and NMI flows: the synchronous management calls the API waits for."""

from __future__ import annotations

from typing import Any

from ironbound import errors
from ironbound.conductor.task import NodeTask
from ironbound.conductor.validation import require_valid
from ironbound.jobspec import BootDevice, NoArgs


def set_boot_device(task: NodeTask, args: BootDevice) -> dict[str, Any]:
    device, persistent = args.boot_device, args.persistent
    require_valid(task, ("management",))
    task.run_step(
        f"set boot device {device}",
        lambda: task.driver.management.set_boot_device(task, device, persistent),
    )
    return {}


def inject_nmi(task: NodeTask, args: NoArgs) -> dict[str, Any]:
    """Inject an NMI; an interface or BMC that cannot is answered, not failed, so the
    API can refuse the request with a 400 as Ironic does."""
    require_valid(task, ("management",))
    try:
        task.run_step("inject NMI", lambda: task.driver.management.inject_nmi(task))
    except errors.StepFailed as exc:
        if isinstance(exc.__cause__, errors.UnsupportedDriverExtension):
            return {"unsupported": str(exc.__cause__)}
        raise
    return {}


def get_boot_device(task: NodeTask, args: NoArgs) -> dict[str, Any]:
    return task.driver.management.get_boot_device(task)


def supported_boot_devices(task: NodeTask, args: NoArgs) -> dict[str, Any]:
    return {"supported_boot_devices": task.driver.management.get_supported_boot_devices(task)}
