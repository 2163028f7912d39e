"""Power flows: a requested power action, and the periodic power state sync."""

from __future__ import annotations

from ironbound import errors
from ironbound.conductor.task import NodeTask
from ironbound.conductor.validation import require_valid
from ironbound.jobspec import NoArgs, Power


def power(task: NodeTask, args: Power) -> None:
    require_valid(task, ("power",))
    task.run_step(
        f"power action '{args.target}'", lambda: task.power_action(args.target, args.timeout)
    )
    task.save(last_error=None)


def sync(task: NodeTask, args: NoArgs) -> None:
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
