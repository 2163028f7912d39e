"""The `ramdisk` deploy interface, as Ironic has it: boot a kernel and ramdisk, or an ISO.

A node with a boot volume (a target with boot_index 0) deploys exactly as
with `direct` (Ironic users combine `ramdisk` with the `external` storage
interface for boot from volume). A node without one boots instance_info
`kernel` and `ramdisk` (with `kernel_append_params`), or `boot_iso`, over
HTTP(S) through the boot interface, after its data volumes are hooked so the
iBFT describes them to a diskless node. The steps (attach, prepare the boot,
boot device network, power on, wait for the report; undeploy: power off,
withdraw the script, detach, remove the targets) are the `direct` deploy's.
"""

from __future__ import annotations

from ironbound import configdrive, errors, sanplan
from ironbound.drivers import base
from ironbound.drivers.deploy.volume import VolumeDeploy
from ironbound.drivers.storage import checks


class RamdiskDeploy(VolumeDeploy):
    capabilities = frozenset({base.RAMDISK_DEPLOY})

    def validate(self, task: base.Task) -> None:
        provides = base.PROVIDES_BOOT_VOLUME in task.driver.storage.capabilities
        if checks.boot_target(task) is not None or provides:
            super().validate(task)
            return
        if task.node.instance_info.get(configdrive.KEY):
            raise errors.ConfigDriveUndeliverable(
                what="The ramdisk deploy of a node without a boot volume"
            )
        if base.RAMDISK_BOOT not in task.driver.boot.capabilities:
            raise errors.InvalidParameterValue(
                reason=f"Boot interface '{task.node.interfaces.get('boot')}' cannot boot a "
                "kernel and ramdisk over HTTP; the ramdisk deploy interface needs one that "
                "can (ipxe)."
            )
        try:
            sanplan.build_ramdisk([], [], task.node.instance_info)
        except sanplan.PlanError as exc:
            raise errors.InvalidParameterValue(
                reason=f"Node {task.node.uuid} has no boot volume (no volume target with "
                f"boot_index 0), so the ramdisk deploy boots a kernel and ramdisk: {exc}."
            ) from exc
