"""Power control through a Redfish BMC: ComputerSystem.Reset, then wait and watch.

Every change is sent as one reset action the BMC advertises, and the call
returns only once the BMC *reports* the target state: a node still
``PoweringOff`` is not off, because what follows a power-off (a boot device
change, a volume detach) must not race the machine. The wait polls the system
every ``[redfish]power_state_poll_interval`` seconds up to the timeout given,
or ``[conductor]power_state_change_timeout`` (``soft_power_off_timeout`` for
graceful actions). A transport hiccup while polling is not fatal; only the
deadline is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sushy

from ironbound import errors, states
from ironbound.drivers import base
from ironbound.drivers import bmc as bmc_common
from ironbound.drivers.redfish import client

LOG = logging.getLogger(__name__)

#: What get_power_state answers for each Redfish PowerState. A transition is
#: reported as where it is heading; Paused is a powered machine.
POWER_STATES: dict[Any, str] = {
    sushy.PowerState.ON: states.POWER_ON,
    sushy.PowerState.POWERING_ON: states.POWER_ON,
    sushy.PowerState.PAUSED: states.POWER_ON,
    sushy.PowerState.OFF: states.POWER_OFF,
    sushy.PowerState.POWERING_OFF: states.POWER_OFF,
}

#: The Redfish state that counts as having arrived.
_REACHED: dict[str, Any] = {
    states.POWER_ON: sushy.PowerState.ON,
    states.POWER_OFF: sushy.PowerState.OFF,
}

# Reset types for each action, in order of preference; the first one the BMC
# advertises is sent.
_ON = (sushy.ResetType.ON, sushy.ResetType.FORCE_ON)
_OFF = (sushy.ResetType.FORCE_OFF,)
_SOFT_OFF = (sushy.ResetType.GRACEFUL_SHUTDOWN,)
_RESTART = (sushy.ResetType.FORCE_RESTART, sushy.ResetType.POWER_CYCLE)
_SOFT_RESTART = (sushy.ResetType.GRACEFUL_RESTART,)


def _pick(allowed: set[Any], wanted: Sequence[Any]) -> Any | None:
    return next((reset for reset in wanted if reset in allowed), None)


def _names(resets: Sequence[Any] | set[Any]) -> str:
    return ", ".join(sorted(reset.value for reset in resets)) or "none"


class RedfishPower(base.PowerInterface):
    """Power on, off, soft off and reboot through the Redfish Reset action."""

    def validate(self, task: base.Task) -> None:
        client.parse_driver_info(task.node.driver_info)

    def get_properties(self) -> dict[str, str]:
        return dict(client.PROPERTIES)

    def get_power_state(self, task: base.Task) -> str:
        bmc = client.open_bmc(self.conf, task)
        with bmc.talking("reading the power state"):
            raw = bmc.system().power_state
        if raw not in POWER_STATES:
            raise errors.BMCError(
                node=bmc.node,
                reason=bmc.scrub(f"the BMC reports {_shown(raw)} ({bmc.info.where})"),
            )
        return POWER_STATES[raw]

    def set_power_state(
        self, task: base.Task, power_state: str, timeout: float | None = None
    ) -> None:
        wanted = {
            states.POWER_ON: (_ON, states.POWER_ON),
            states.POWER_OFF: (_OFF, states.POWER_OFF),
            states.SOFT_POWER_OFF: (_SOFT_OFF, states.POWER_OFF),
        }
        if power_state not in wanted:
            raise errors.PowerStateFailure(
                state=power_state,
                reason=f"not a state to set; use one of {', '.join(wanted)} (or reboot)",
            )
        resets, target = wanted[power_state]
        soft = power_state == states.SOFT_POWER_OFF
        bmc = client.open_bmc(self.conf, task)
        system = self._system(bmc)
        current = system.power_state
        if current == _REACHED[target]:
            LOG.debug("Node %s is already %s; no reset sent", bmc.node, target)
            return
        if POWER_STATES.get(current) != target:  # not already on its way there
            self._reset(bmc, system, resets, power_state)
        self._wait(bmc, target, self._timeout(timeout, soft), power_state)

    def reboot(self, task: base.Task, timeout: float | None = None, soft: bool = False) -> None:
        bmc = client.open_bmc(self.conf, task)
        system = self._system(bmc)
        action = states.SOFT_REBOOT if soft else states.REBOOT
        limit = self._timeout(timeout, soft)
        if system.power_state == sushy.PowerState.POWERING_OFF:
            # Most BMCs refuse On halfway down; let it get there first.
            self._wait(bmc, states.POWER_OFF, limit, action)
            system = self._system(bmc)
        if POWER_STATES.get(system.power_state) == states.POWER_OFF:
            self._reset(bmc, system, _ON, action)
            self._wait(bmc, states.POWER_ON, limit, action)
            return
        allowed = self._allowed(bmc, system)
        restart = _pick(allowed, _SOFT_RESTART if soft else _RESTART)
        if restart is None and _pick(allowed, _ON) is not None:
            # No restart on offer: stop the machine, then start it.
            self._reset(bmc, system, _SOFT_OFF if soft else _OFF, action)
            self._wait(bmc, states.POWER_OFF, limit, action)
            self._reset(bmc, self._system(bmc), _ON, action)
        else:
            self._reset(bmc, system, _SOFT_RESTART if soft else _RESTART, action)
        self._wait(bmc, states.POWER_ON, limit, action)

    def get_supported_power_states(self, task: base.Task) -> list[str]:
        bmc = client.open_bmc(self.conf, task)
        system = self._system(bmc)
        allowed = self._allowed(bmc, system)
        can_on = _pick(allowed, _ON) is not None
        offers = {
            states.POWER_ON: can_on,
            states.POWER_OFF: _pick(allowed, _OFF) is not None,
            states.REBOOT: _pick(allowed, _RESTART) is not None
            or (can_on and _pick(allowed, _OFF) is not None),
            states.SOFT_POWER_OFF: _pick(allowed, _SOFT_OFF) is not None,
            states.SOFT_REBOOT: _pick(allowed, _SOFT_RESTART) is not None
            or (can_on and _pick(allowed, _SOFT_OFF) is not None),
        }
        return [state for state, offered in offers.items() if offered]

    # --- helpers -----------------------------------------------------------

    def _timeout(self, timeout: float | None, soft: bool) -> float:
        return bmc_common.power_timeout(self.conf, timeout, soft)

    @staticmethod
    def _system(bmc: client.BMC) -> Any:
        with bmc.talking("reading the system"):
            return bmc.system()

    @staticmethod
    def _allowed(bmc: client.BMC, system: Any) -> set[Any]:
        with bmc.talking("reading the reset types on offer"):
            return set(system.get_allowed_reset_system_values())

    def _reset(self, bmc: client.BMC, system: Any, wanted: Sequence[Any], action: str) -> None:
        allowed = self._allowed(bmc, system)
        reset = _pick(allowed, wanted)
        if reset is None:
            raise errors.PowerStateFailure(
                state=action,
                reason=f"the BMC offers no reset type for it (wanted {_names(wanted)}, "
                f"offered {_names(allowed)}) ({bmc.info.where})",
            )
        LOG.info("Node %s: sending Redfish reset %s (%s)", bmc.node, reset.value, bmc.info.where)
        with bmc.talking(f"sending reset {reset.value}"):
            system.reset_system(reset)

    def _wait(self, bmc: client.BMC, target: str, timeout: float, action: str) -> None:
        """Poll until the BMC reports `target`; PowerStateFailure at the deadline."""
        bmc_common.wait_for_power(
            lambda: _shown(bmc.system(attempts=1).power_state),
            _REACHED[target].value,
            timeout=timeout,
            interval=float(self.conf.redfish.power_state_poll_interval),
            action=action,
            where=bmc.info.where,
            password=bmc.info.password,
        )
        LOG.info("Node %s reached %s", bmc.node, target)


def _shown(raw: Any) -> str:
    if raw is None:
        return "no power state"
    return str(getattr(raw, "value", raw))
