"""Power control through an IPMI BMC: Chassis Control, then wait and watch.

A call returns only once the BMC *reports* the target state. The wait polls the
chassis status every ``[ipmi]power_state_poll_interval`` seconds up to the timeout
given, or ``[conductor]power_state_change_timeout`` (``soft_power_off_timeout`` for
soft actions). A poll that gets no answer is not fatal; only the deadline is.

A reboot is a power off, a wait for off, and a power on (as Ironic's ipmitool driver
does): a chassis reset restarts the machine without the BMC re-reading its boot
configuration on some BMCs (virtualbmc's libvirt domains among them).
"""

from __future__ import annotations

import logging

from ironbound import errors, states
from ironbound.drivers import base
from ironbound.drivers import bmc as bmc_common
from ironbound.drivers.ipmi import client

LOG = logging.getLogger(__name__)

#: pyghmi's chassis power states and what they mean here.
POWER_STATES: dict[str, str] = {"on": states.POWER_ON, "off": states.POWER_OFF}


class IPMIPower(base.PowerInterface):
    """Power on, off, soft off, reboot and soft reboot through IPMI chassis control."""

    def validate(self, task: base.Task) -> None:
        client.parse_driver_info(task.node.driver_info)

    def get_properties(self) -> dict[str, str]:
        return dict(client.PROPERTIES)

    def get_power_state(self, task: base.Task) -> str:
        with client.connect(self.conf, task) as bmc:
            return self._state(bmc)

    def set_power_state(
        self, task: base.Task, power_state: str, timeout: float | None = None
    ) -> None:
        wanted = {
            states.POWER_ON: ("on", states.POWER_ON),
            states.POWER_OFF: ("off", states.POWER_OFF),
            states.SOFT_POWER_OFF: ("shutdown", states.POWER_OFF),
        }
        if power_state not in wanted:
            raise errors.PowerStateFailure(
                state=power_state,
                reason=f"not a state to set; use one of {', '.join(wanted)} (or reboot)",
            )
        request, target = wanted[power_state]
        limit = self._timeout(timeout, soft=power_state == states.SOFT_POWER_OFF)
        with client.connect(self.conf, task) as bmc:
            if self._state(bmc) == target:
                LOG.debug("Node %s is already %s; nothing sent", bmc.node, target)
                return
            self._send(bmc, request)
            self._wait(bmc, target, limit, power_state)

    def reboot(self, task: base.Task, timeout: float | None = None, soft: bool = False) -> None:
        action = states.SOFT_REBOOT if soft else states.REBOOT
        limit = self._timeout(timeout, soft)
        with client.connect(self.conf, task) as bmc:
            if self._state(bmc) == states.POWER_ON:
                self._send(bmc, "shutdown" if soft else "off")
                self._wait(bmc, states.POWER_OFF, limit, action)
            self._send(bmc, "on")
            self._wait(bmc, states.POWER_ON, limit, action)

    def get_supported_power_states(self, task: base.Task) -> list[str]:
        client.parse_driver_info(task.node.driver_info)
        return [
            states.POWER_ON,
            states.POWER_OFF,
            states.REBOOT,
            states.SOFT_POWER_OFF,
            states.SOFT_REBOOT,
        ]

    # --- helpers -------------------------------------------------------------

    def _timeout(self, timeout: float | None, soft: bool) -> float:
        return bmc_common.power_timeout(self.conf, timeout, soft)

    @staticmethod
    def _state(bmc: client.BMCSession) -> str:
        answer = bmc.call("reading the power state", lambda ipmi: ipmi.get_power())
        raw = answer.get("powerstate") if isinstance(answer, dict) else None
        if raw not in POWER_STATES:
            raise errors.BMCError(
                node=bmc.node,
                reason=bmc.scrub(f"the BMC reports power state {raw!r} ({bmc.info.where})"),
            )
        return POWER_STATES[raw]

    @staticmethod
    def _send(bmc: client.BMCSession, request: str) -> None:
        LOG.info("Node %s: sending IPMI power %s (%s)", bmc.node, request, bmc.info.where)
        answer = bmc.call(
            f"sending power {request}", lambda ipmi: ipmi.set_power(request, wait=False)
        )
        if isinstance(answer, dict) and "error" in answer:
            raise errors.BMCError(
                node=bmc.node,
                reason=bmc.scrub(
                    f"the BMC refused power {request} ({answer['error']}) ({bmc.info.where})"
                ),
            )

    def _wait(self, bmc: client.BMCSession, target: str, timeout: float, action: str) -> None:
        """Poll until the BMC reports `target`; PowerStateFailure at the deadline."""
        bmc_common.wait_for_power(
            lambda: self._state(bmc),
            target,
            timeout=timeout,
            interval=float(self.conf.ipmi.power_state_poll_interval),
            action=action,
            where=bmc.info.where,
            password=bmc.info.password,
        )
        LOG.info("Node %s reached %s", bmc.node, target)
