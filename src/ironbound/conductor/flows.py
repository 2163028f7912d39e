"""The flow that runs each kind of job: the conductor's half of `ironbound.jobspec`.

Each flow takes its kind's arguments record (`JobKind.arguments`);
`tests/unit/test_architecture.py` checks that every flow's annotation says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ironbound.conductor import deploy, management, power, provision, storage, validation
from ironbound.conductor.task import NodeTask
from ironbound.jobspec import JobKind

#: A flow: the node's task and its kind's arguments (a `NoArgs` subclass) in, the answer
#: of a synchronous kind out.
Flow = Callable[[NodeTask, Any], "dict[str, Any] | None"]

FLOWS: Mapping[JobKind, Flow] = {
    JobKind.VERIFY: provision.verify,
    JobKind.CLEAN: provision.clean,
    JobKind.INSPECT: provision.inspect,
    JobKind.ADOPT: provision.adopt,
    JobKind.DEPLOY: deploy.deploy,
    JobKind.UNDEPLOY: deploy.undeploy,
    JobKind.ABORT: deploy.abort,
    JobKind.ABANDONED_DEPLOY: deploy.abandoned,
    JobKind.BOOT_EVENT: deploy.boot_event,
    JobKind.CALLBACK_TIMEOUT: deploy.callback_timeout,
    JobKind.POWER: power.power,
    JobKind.SYNC_POWER: power.sync,
    JobKind.SYNC_STORAGE: storage.sync,
    JobKind.RELEASE_STORAGE: storage.release,
    JobKind.SET_BOOT_DEVICE: management.set_boot_device,
    JobKind.INJECT_NMI: management.inject_nmi,
    JobKind.GET_BOOT_DEVICE: management.get_boot_device,
    JobKind.SUPPORTED_BOOT_DEVICES: management.supported_boot_devices,
    JobKind.VALIDATE: validation.validate,
}
