"""The `direct` deploy interface as Ironbound does it: boot the node from its volume.

Operators coming from Ironic name `direct` for boot from volume (Ironic
needs an agent-based deploy interface for it); here it attaches the node's
volumes, has the boot interface prepare the boot, sets the boot device to
network (persistently: the node network-boots into its volume every time)
and powers the node on. With instance_info/image_source, it first writes that
image onto the boot volume (`image.py`), where the storage interface can;
writing an image to a local disk is not supported.
"""

from __future__ import annotations

from ironbound import configdrive, errors, records, states
from ironbound.drivers import base
from ironbound.drivers.deploy import image
from ironbound.drivers.storage import checks


def _attach_config_drive(task: base.Task) -> None:
    """The instance's config drive, with Ironbound's vendor data: cloud-init's phone_home
    confirms the boot (docs/config-drive.md). None takes away a rebuilt node's old one."""
    stored = task.node.instance_info.get(configdrive.KEY)
    if stored is None:
        task.driver.storage.attach_config_drive(task, None)
        return
    value = configdrive.unsealed(records.secret_value(stored))
    url = task.boot_confirmation_url()
    vendor = configdrive.phone_home(url) if url else None
    iso = configdrive.iso_image(
        value, node_uuid=task.node.uuid, node_name=task.node.name, vendor_cloud_config=vendor
    )
    task.driver.storage.attach_config_drive(task, iso)


class VolumeDeploy(base.DeployInterface):
    def validate(self, task: base.Task) -> None:
        storage = task.driver.storage.capabilities
        if checks.boot_target(task) is None and base.PROVIDES_BOOT_VOLUME not in storage:
            raise errors.InvalidParameterValue(
                reason=f"Node {task.node.uuid} has no volume target with boot_index 0. The direct "
                "deploy interface of Ironbound boots nodes from a volume; deploying an image to a "
                "local disk is not supported."
            )
        if "image_source" in task.node.instance_info:
            if base.WRITES_IMAGES not in storage:
                raise errors.InvalidParameterValue(
                    reason=f"Node {task.node.uuid} has instance_info/image_source, but its "
                    f"storage interface '{task.node.interfaces.get('storage')}' cannot write "
                    "an image onto the boot volume. Unset image_source to boot the volume as "
                    "it is."
                )
            image.check(task)
        if base.ISCSI_VOLUME_BOOT not in task.driver.boot.capabilities:
            raise errors.InvalidParameterValue(
                reason=f"Boot interface '{task.node.interfaces.get('boot')}' cannot boot from "
                "a volume."
            )

    def deploy(self, task: base.Task) -> str | None:
        task.run_step("attach volumes", lambda: task.driver.storage.attach_volumes(task))
        if "image_source" in task.node.instance_info:
            task.run_step("write image", lambda: image.write_boot_image(task))
        task.run_step("prepare boot", lambda: task.driver.boot.prepare_instance(task))
        self.deliver_config_drive(task)
        task.run_step(
            "set boot device to network",
            lambda: task.driver.management.set_boot_device(task, base.PXE, persistent=True),
        )
        action = states.REBOOT if task.node.power_state == states.POWER_ON else states.POWER_ON
        task.run_step(
            f"power {'reboot' if action == states.REBOOT else 'on'}",
            lambda: task.power_action(action),
        )
        if base.BOOT_EVENTS in task.driver.boot.capabilities:
            return states.DEPLOYWAIT
        return None

    def deliver_config_drive(self, task: base.Task) -> None:
        """After `prepare boot` (the boot token exists): the storage's config drive."""
        if base.DELIVERS_CONFIG_DRIVE in task.driver.storage.capabilities:
            task.run_step("attach config drive", lambda: _attach_config_drive(task))

    def tear_down(self, task: base.Task) -> None:
        task.run_step("power off", lambda: task.power_action(states.POWER_OFF))
        task.run_step("remove boot configuration", lambda: task.driver.boot.clean_up_instance(task))
        task.run_step("detach volumes", lambda: task.driver.storage.detach_volumes(task))
        task.delete_volume_targets()
        task.record("volume targets removed (as Ironic does at undeploy)")

    def take_over(self, task: base.Task) -> None:
        task.run_step("attach volumes", lambda: task.driver.storage.attach_volumes(task))
        task.run_step("prepare boot", lambda: task.driver.boot.prepare_instance(task))
