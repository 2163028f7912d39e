"""The `ramdisk` deploy interface, as Ironic has it: boot a kernel and ramdisk, or an ISO.

A node with a boot volume (a target with boot_index 0) deploys exactly as
with `direct` (Ironic users combine `ramdisk` with the `external` storage
interface for boot from volume). A node without one boots instance_info
`kernel` and `ramdisk` (with `kernel_append_params`), or `boot_iso`, over
HTTP(S) through the boot interface, after its data volumes are hooked so the
iBFT describes them to a diskless node. The steps (attach, prepare the boot,
boot device network, power on, wait for the report; undeploy: power off,
withdraw the script, detach, remove the targets) are the `direct` deploy's.

A config drive reaches a kernel as a NoCloud seed the boot server serves
(`ironbound.nocloud`), named on the kernel command line: no volume carries
it. An ISO boots with its own boot loader's command line, so it gets none.
"""

from __future__ import annotations

from ironbound import configdrive, errors, nocloud, records, sanplan
from ironbound.drivers import base
from ironbound.drivers.deploy.volume import VolumeDeploy
from ironbound.drivers.storage import checks


def _check_seed(task: base.Task) -> None:
    """Build the seed the boot server will serve, so a drive it cannot serve fails the
    deploy now rather than the node's cloud-init later."""
    stored = task.node.instance_info[configdrive.KEY]
    nocloud.seed(
        configdrive.unsealed(records.secret_value(stored)),
        node_uuid=task.node.uuid,
        node_name=task.node.name,
        confirmation_url=task.boot_confirmation_url() or "",
    )
    task.record(
        "config drive served as a NoCloud seed: the kernel command line names it (ds=nocloud-net)"
    )


class RamdiskDeploy(VolumeDeploy):
    capabilities = frozenset({base.RAMDISK_DEPLOY})

    def delivers_config_drive(self, task: base.Task) -> bool:
        """A node without a boot volume boots a kernel here, which gets a NoCloud seed."""
        provides = base.PROVIDES_BOOT_VOLUME in task.driver.storage.capabilities
        return checks.boot_target(task) is None and not provides

    def validate(self, task: base.Task) -> None:
        if not self.delivers_config_drive(task):
            super().validate(task)
            return
        if base.RAMDISK_BOOT not in task.driver.boot.capabilities:
            raise errors.InvalidParameterValue(
                reason=f"Boot interface '{task.node.interfaces.get('boot')}' cannot boot a "
                "kernel and ramdisk over HTTP; the ramdisk deploy interface needs one that "
                "can (ipxe)."
            )
        try:
            plan = sanplan.build_ramdisk([], [], task.node.instance_info)
        except sanplan.PlanError as exc:
            raise errors.InvalidParameterValue(
                reason=f"Node {task.node.uuid} has no boot volume (no volume target with "
                f"boot_index 0), so the ramdisk deploy boots a kernel and ramdisk: {exc}."
            ) from exc
        if plan.boot_iso and task.node.instance_info.get(configdrive.KEY):
            raise errors.ConfigDriveUndeliverable(
                what="The ramdisk deploy of an ISO (instance_info/boot_iso), which boots with "
                "its own boot loader's kernel command line,"
            )

    def deliver_config_drive(self, task: base.Task) -> None:
        if not self.delivers_config_drive(task):
            super().deliver_config_drive(task)
        elif task.node.instance_info.get(configdrive.KEY):
            task.run_step("check the NoCloud seed", lambda: _check_seed(task))
