"""Fake implementations of every interface.

They are production code, not test doubles: they serve the admin-guide
walkthrough on `fake-hardware`, demos and load runs. Each honours a delay
from the ``[fake]`` config group so that flows can be watched in progress.
"""

from __future__ import annotations

import time
from typing import Any

from ironbound import errors, states
from ironbound.drivers import base
from ironbound.drivers.storage.noop import NoopStorage


class FakePower(base.PowerInterface):
    """Remembers the requested power state; no hardware behind it."""

    def validate(self, task: base.Task) -> None:
        return None

    def get_power_state(self, task: base.Task) -> str:
        return task.node.power_state or states.POWER_OFF

    def set_power_state(
        self, task: base.Task, power_state: str, timeout: float | None = None
    ) -> None:
        if power_state not in (states.POWER_ON, states.POWER_OFF, states.SOFT_POWER_OFF):
            raise errors.PowerStateFailure(state=power_state, reason="not a fake power state")
        self._take(power_state, timeout)

    def reboot(self, task: base.Task, timeout: float | None = None, soft: bool = False) -> None:
        self._take(states.POWER_ON, timeout)

    def _take(self, power_state: str, timeout: float | None) -> None:
        """Spend [fake]power_delay, or fail as a slow BMC would when `timeout` is shorter."""
        delay = self.conf.fake.power_delay
        if timeout is not None and delay > timeout:
            time.sleep(timeout)
            raise errors.PowerStateFailure(
                state=power_state, reason=f"the fake BMC needs {delay:g} s, more than {timeout:g} s"
            )
        time.sleep(delay)

    def get_supported_power_states(self, task: base.Task) -> list[str]:
        return [
            states.POWER_ON,
            states.POWER_OFF,
            states.REBOOT,
            states.SOFT_POWER_OFF,
            states.SOFT_REBOOT,
        ]


class FakeManagement(base.ManagementInterface):
    """Keeps the boot device in driver_internal_info."""

    def validate(self, task: base.Task) -> None:
        return None

    def get_supported_boot_devices(self, task: base.Task) -> list[str]:
        return [base.PXE, base.DISK, base.CDROM, base.BIOS, base.SAFE]

    def set_boot_device(self, task: base.Task, device: str, persistent: bool = False) -> None:
        if device not in self.get_supported_boot_devices(task):
            raise errors.InvalidParameterValue(
                reason=f"Invalid boot device {device}, valid devices are "
                f"{self.get_supported_boot_devices(task)}."
            )
        task.set_internal_info(fake_boot_device={"boot_device": device, "persistent": persistent})

    def get_boot_device(self, task: base.Task) -> dict[str, Any]:
        stored = task.node.driver_internal_info.get("fake_boot_device")
        if isinstance(stored, dict):
            return {
                "boot_device": stored.get("boot_device"),
                "persistent": stored.get("persistent"),
            }
        return {"boot_device": base.PXE, "persistent": False}

    def inject_nmi(self, task: base.Task) -> None:
        task.record("fake NMI injected")


class FakeBoot(base.BootInterface):
    """Claims what iPXE can do, so storage validation passes as it would on real iron."""

    capabilities = frozenset({base.ISCSI_VOLUME_BOOT, base.RAMDISK_BOOT})

    def validate(self, task: base.Task) -> None:
        return None

    def prepare_instance(self, task: base.Task) -> None:
        time.sleep(self.conf.fake.boot_delay)

    def clean_up_instance(self, task: base.Task) -> None:
        return None


class FakeDeploy(base.DeployInterface):
    """Marks the node deployed; touches neither storage nor boot (as Ironic's fake)."""

    def validate(self, task: base.Task) -> None:
        return None

    def deploy(self, task: base.Task) -> str | None:
        time.sleep(self.conf.fake.deploy_delay)
        return None

    def tear_down(self, task: base.Task) -> None:
        time.sleep(self.conf.fake.deploy_delay)


class FakeStorage(NoopStorage):
    """Ironic's fake storage: does exactly what noop does, under the name tests use."""


class FakeBios(base.BiosInterface):
    pass


class FakeConsole(base.ConsoleInterface):
    pass


class FakeInspect(base.InspectInterface):
    pass


class FakeRaid(base.RaidInterface):
    pass


class FakeVendor(base.VendorInterface):
    pass
