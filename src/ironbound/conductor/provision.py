"""Flows that move a node between its stable states without deploying it.

Each lands on the target provision state that the API set from the state
table (`ironbound.states`) when it queued the job.
"""

from __future__ import annotations

from ironbound.conductor.task import NodeTask
from ironbound.conductor.validation import require_valid
from ironbound.jobspec import Provision


def verify(task: NodeTask, args: Provision) -> None:
    """enroll → manageable: the BMC credentials work and the power state is known."""
    require_valid(task, ("power", "management"))
    power_state = task.run_step("read power state", lambda: task.driver.power.get_power_state(task))
    task.land(power_state=power_state)


def clean(task: NodeTask, args: Provision) -> None:
    """Automated cleaning: a boot-from-volume node has no local disk to wipe.

    The node still passes through "cleaning" as in Ironic, so clients that
    wait for that state see it.
    """
    task.record("cleaning: no clean steps apply to this node")
    task.land()


def inspect(task: NodeTask, args: Provision) -> None:
    """manageable → inspecting → manageable, through the node's inspect interface."""
    require_valid(task, ("inspect",))
    task.run_step("inspect hardware", lambda: task.driver.inspect.inspect_hardware(task))
    task.land()


def adopt(task: NodeTask, args: Provision) -> None:
    """manageable → active for a node that already runs its instance: no power action."""
    require_valid(task, ("power", "management", "boot", "deploy", "storage"))
    task.run_step("take over", lambda: task.driver.deploy.take_over(task))
    task.land()
