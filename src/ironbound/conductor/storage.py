"""Storage flows outside deploys: the periodic attachment check, and detaching before a delete."""

from __future__ import annotations

from typing import Any

from ironbound import states
from ironbound.conductor.task import NodeTask
from ironbound.jobspec import NoArgs


def sync(task: NodeTask, args: NoArgs) -> None:
    """Compare an active node's recorded attachments with its storage service's view."""
    if task.node.provision_state == states.ACTIVE and not task.node.maintenance:
        task.driver.storage.reconcile(task)


def release(task: NodeTask, args: NoArgs) -> dict[str, Any]:
    """Detach the node's volumes so that it can be deleted without leaving attachments."""
    task.run_step("detach volumes", lambda: task.driver.storage.detach_volumes(task))
    return {}
