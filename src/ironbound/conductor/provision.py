"""Flows that move a node between its stable states without deploying it."""

from __future__ import annotations

from typing import Any

from ironbound.conductor import states
from ironbound.conductor.steps import require_valid, run_step
from ironbound.conductor.task import NodeTask


def verify(task: NodeTask, args: dict[str, Any]) -> None:
    """enroll → manageable: the BMC credentials work and the power state is known."""
    require_valid(task, ("power", "management"))
    power_state = run_step(
        task, "read power state", lambda: task.driver.power.get_power_state(task)
    )
    task.save(
        power_state=power_state,
        provision_state=states.MANAGEABLE,
        target_provision_state=None,
        last_error=None,
    )


def clean(task: NodeTask, args: dict[str, Any]) -> None:
    """Automated cleaning: a boot-from-volume node has no local disk to wipe.

    The node still passes through "cleaning" as in Ironic, so clients that
    wait for that state see it.
    """
    target = task.node.target_provision_state or states.AVAILABLE
    task.record("cleaning: no clean steps apply to this node")
    task.save(provision_state=target, target_provision_state=None, last_error=None)


def inspect(task: NodeTask, args: dict[str, Any]) -> None:
    """manageable → inspecting → manageable, through the node's inspect interface."""
    require_valid(task, ("inspect",))
    run_step(task, "inspect hardware", lambda: task.driver.inspect.inspect_hardware(task))
    task.save(provision_state=states.MANAGEABLE, target_provision_state=None, last_error=None)


def adopt(task: NodeTask, args: dict[str, Any]) -> None:
    """manageable → active for a node that already runs its instance: no power action."""
    require_valid(task, ("power", "management", "boot", "deploy", "storage"))
    run_step(task, "take over", lambda: task.driver.deploy.take_over(task))
    task.save(provision_state=states.ACTIVE, target_provision_state=None, last_error=None)
