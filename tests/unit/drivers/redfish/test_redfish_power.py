"""Power through the emulator: round trips with state waits, timeouts, reset choice."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sushy
from sushy.resources.system.system import System

from ironbound import errors, states
from ironbound.drivers.redfish.power import RedfishPower

from ._support import FakeTask, make_conf, make_node
from .conftest import BMC_PASSWORD, BMC_USER
from .emulator import Emulator


@pytest.fixture
def task(fast_info: dict[str, Any]) -> FakeTask:
    return FakeTask(conf=make_conf(), node=make_node(fast_info))


@pytest.fixture
def power(task: FakeTask) -> RedfishPower:
    return RedfishPower(task.conf)


def _resets(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The reset types the driver sent, in order."""
    marker = "sending Redfish reset "
    return [
        record.getMessage().split(marker)[1].split()[0]
        for record in caplog.records
        if marker in record.getMessage()
    ]


def test_power_on_then_off_waits_for_each_state(
    power: RedfishPower, task: FakeTask, caplog: pytest.LogCaptureFixture
) -> None:
    assert power.get_power_state(task) == states.POWER_OFF

    power.set_power_state(task, states.POWER_ON, timeout=10)
    assert power.get_power_state(task) == states.POWER_ON  # reached, not just requested

    power.set_power_state(task, states.POWER_OFF, timeout=10)
    assert power.get_power_state(task) == states.POWER_OFF
    assert _resets(caplog) == ["On", "ForceOff"]


def test_state_already_reached_sends_nothing(
    power: RedfishPower, task: FakeTask, caplog: pytest.LogCaptureFixture
) -> None:
    power.set_power_state(task, states.POWER_OFF)
    power.set_power_state(task, states.SOFT_POWER_OFF)
    assert _resets(caplog) == []


def test_soft_power_off_shuts_down_gracefully(
    power: RedfishPower, task: FakeTask, caplog: pytest.LogCaptureFixture
) -> None:
    power.set_power_state(task, states.POWER_ON, timeout=10)
    power.set_power_state(task, states.SOFT_POWER_OFF, timeout=10)
    assert power.get_power_state(task) == states.POWER_OFF
    assert _resets(caplog) == ["On", "GracefulShutdown"]


def test_reboot_of_a_running_node_restarts_it(
    power: RedfishPower, task: FakeTask, caplog: pytest.LogCaptureFixture
) -> None:
    power.set_power_state(task, states.POWER_ON, timeout=10)
    power.reboot(task, timeout=10)
    assert power.get_power_state(task) == states.POWER_ON
    assert _resets(caplog) == ["On", "ForceRestart"]


def test_soft_reboot_restarts_gracefully(
    power: RedfishPower, task: FakeTask, caplog: pytest.LogCaptureFixture
) -> None:
    power.set_power_state(task, states.POWER_ON, timeout=10)
    power.reboot(task, timeout=10, soft=True)
    assert power.get_power_state(task) == states.POWER_ON
    assert _resets(caplog) == ["On", "GracefulRestart"]


def test_reboot_of_a_node_that_is_off_powers_it_on(
    power: RedfishPower, task: FakeTask, caplog: pytest.LogCaptureFixture
) -> None:
    power.reboot(task, timeout=10)
    assert power.get_power_state(task) == states.POWER_ON
    assert _resets(caplog) == ["On"]


def test_default_timeout_comes_from_config(fast_info: dict[str, Any]) -> None:
    conf = make_conf(**{"conductor.power_state_change_timeout": 10.0})
    task = FakeTask(conf=conf, node=make_node(fast_info))
    RedfishPower(conf).set_power_state(task, states.POWER_ON)
    assert RedfishPower(conf).get_power_state(task) == states.POWER_ON


def _frozen_task(emulator: Emulator, state: str) -> FakeTask:
    conf = make_conf()
    node = make_node(
        {"redfish_address": emulator.address, "redfish_system_id": emulator.frozen_ids[state]}
    )
    return FakeTask(conf=conf, node=node)


def test_transitions_read_as_where_they_are_heading(fast_bmc: Emulator) -> None:
    for state, expected in (("PoweringOn", states.POWER_ON), ("PoweringOff", states.POWER_OFF)):
        task = _frozen_task(fast_bmc, state)
        assert RedfishPower(task.conf).get_power_state(task) == expected


@pytest.mark.parametrize(
    ("frozen", "action"),
    [
        ("PoweringOff", states.POWER_OFF),  # on its way: wait, send nothing
        ("PoweringOn", states.POWER_ON),
        ("PoweringOff", states.REBOOT),  # let it get down before asking for On
    ],
)
def test_a_node_on_its_way_is_waited_for_not_reset_again(
    fast_bmc: Emulator, frozen: str, action: str, caplog: pytest.LogCaptureFixture
) -> None:
    task = _frozen_task(fast_bmc, frozen)
    power = RedfishPower(task.conf)
    with pytest.raises(errors.PowerStateFailure) as caught:
        if action == states.REBOOT:
            power.reboot(task, timeout=0.3)
        else:
            power.set_power_state(task, action, timeout=0.3)
    assert f"the BMC still reports {frozen} 0.3 s later" in str(caught.value)
    assert _resets(caplog) == []


def test_supported_power_states(power: RedfishPower, task: FakeTask) -> None:
    assert power.get_supported_power_states(task) == [
        states.POWER_ON,
        states.POWER_OFF,
        states.REBOOT,
        states.SOFT_POWER_OFF,
        states.SOFT_REBOOT,
    ]


@pytest.mark.parametrize("target", [states.REBOOT, "power cycle", ""])
def test_unknown_target_state_is_refused(
    power: RedfishPower, task: FakeTask, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(errors.PowerStateFailure) as caught:
        power.set_power_state(task, target)
    assert "use one of power on, power off, soft power off" in str(caught.value)
    assert _resets(caplog) == []


def test_state_not_reached_in_time_fails_with_what_the_bmc_reports(slow_bmc: Emulator) -> None:
    conf = make_conf()
    task = FakeTask(conf=conf, node=make_node({"redfish_address": slow_bmc.address}))
    started = time.monotonic()
    with pytest.raises(errors.PowerStateFailure) as caught:
        RedfishPower(conf).set_power_state(task, states.POWER_ON, timeout=0.5)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith("Failed to set node power state to power on: ")
    assert "the BMC still reports Off 0.5 s later, not On" in message
    assert f"the only system at {slow_bmc.address}" in message
    assert 0.5 <= elapsed < 2.0


def test_wait_copes_with_the_emulators_random_delay(secure_bmc: Emulator) -> None:
    """The emulator as shipped lands a power change 1 to 11 s after the request."""
    assert secure_bmc.tls is not None
    conf = make_conf()  # default wait: [conductor]power_state_change_timeout, 60 s
    node = make_node(
        {
            "redfish_address": secure_bmc.address,
            "redfish_system_id": secure_bmc.system_ids[1],
            "redfish_username": BMC_USER,
            "redfish_password": BMC_PASSWORD,
            "redfish_verify_ca": str(secure_bmc.tls.ca),
        }
    )
    task = FakeTask(conf=conf, node=node)
    RedfishPower(conf).set_power_state(task, states.POWER_ON)
    assert RedfishPower(conf).get_power_state(task) == states.POWER_ON


# --- a BMC that offers fewer reset types ------------------------------------
# The emulator always advertises every reset type, so these tests narrow what
# sushy reports as allowed; the requests themselves still go to the emulator.


@pytest.fixture
def only_on_and_force_off(monkeypatch: pytest.MonkeyPatch) -> None:
    offered = {sushy.ResetType.ON, sushy.ResetType.FORCE_OFF}
    monkeypatch.setattr(System, "get_allowed_reset_system_values", lambda self: set(offered))


@pytest.mark.usefixtures("only_on_and_force_off")
def test_reboot_without_a_restart_type_stops_then_starts(
    power: RedfishPower, task: FakeTask, caplog: pytest.LogCaptureFixture
) -> None:
    power.set_power_state(task, states.POWER_ON, timeout=10)
    power.reboot(task, timeout=10)
    assert power.get_power_state(task) == states.POWER_ON
    assert _resets(caplog) == ["On", "ForceOff", "On"]
    assert power.get_supported_power_states(task) == [
        states.POWER_ON,
        states.POWER_OFF,
        states.REBOOT,
    ]


@pytest.mark.usefixtures("only_on_and_force_off")
def test_action_the_bmc_does_not_offer_fails_before_sending(
    power: RedfishPower, task: FakeTask, caplog: pytest.LogCaptureFixture
) -> None:
    power.set_power_state(task, states.POWER_ON, timeout=10)
    with pytest.raises(errors.PowerStateFailure) as caught:
        power.set_power_state(task, states.SOFT_POWER_OFF)
    message = str(caught.value)
    assert "soft power off" in message
    assert "wanted GracefulShutdown, offered ForceOff, On" in message
    assert _resets(caplog) == ["On"]
