"""The ipmi interfaces: driver_info parsing, errors, sessions, against an in-memory pyghmi BMC.

fake_bmc.py runs pyghmi's own BMC class in a subprocess on a free UDP port of
127.0.0.1 (stopped by PID); the real virtualbmc is tested in tests/lab/test_ipmi.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ironbound import errors, states
from ironbound.drivers import hardware
from ironbound.drivers.ipmi import client
from ironbound.drivers.ipmi.management import IPMIManagement
from ironbound.drivers.ipmi.power import IPMIPower
from ironbound.sensitive import Secret, is_secret_key
from tests.unit.drivers.redfish._support import FakeTask, make_conf, make_node, watch_logs_for

USER, PASSWORD = "admin", "Fake-Ipmi-Pass-7"
WRONG = "Wrong-Ipmi-Pass-8"
FAKE_BMC = Path(__file__).with_name("fake_bmc.py")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _serve(*extra: str) -> Iterator[int]:
    port = _free_udp_port()
    env = {**os.environ, "FAKE_BMC_PASSWORD": PASSWORD}
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_BMC), str(port), USER, *extra],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _bound(port):
            assert proc.poll() is None, "the fake BMC exited"
            assert time.monotonic() < deadline, "the fake BMC did not bind its port"
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def bmc_port() -> Iterator[int]:
    yield from _serve()


@pytest.fixture(scope="module")
def stuck_port() -> Iterator[int]:
    yield from _serve("stuck")


def _task(port: int, password: str = PASSWORD, **info: Any) -> FakeTask:
    driver_info = {
        "ipmi_address": "127.0.0.1",
        "ipmi_port": port,
        "ipmi_username": USER,
        "ipmi_password": password,
        "ipmi_cipher_suite": 3,  # pyghmi's BMC answers in SHA1 only
        **info,
    }
    return FakeTask(make_conf(), make_node(driver_info, driver="ipmi"))


@pytest.fixture(autouse=True)
def _no_password_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test runs with all loggers at DEBUG; no password may show in any record."""
    yield from watch_logs_for(caplog, (PASSWORD, WRONG))


# --- driver_info ------------------------------------------------------------------------


def test_driver_info_defaults() -> None:
    info = client.parse_driver_info({"ipmi_address": " 10.0.0.5 "})
    assert (info.address, info.port, info.username, info.password) == ("10.0.0.5", 623, None, None)
    assert info.priv_level == "ADMINISTRATOR"
    assert info.cipher_suite is None
    assert info.where == "IPMI BMC at 10.0.0.5:623"


def test_driver_info_full() -> None:
    info = client.parse_driver_info(
        {
            "ipmi_address": "[fd00::5]",
            "ipmi_port": "6230",
            "ipmi_username": "root",
            "ipmi_password": Secret("s3cret"),
            "ipmi_priv_level": "operator",
            "ipmi_bridging": "no",
            "ipmi_cipher_suite": "17",
        }
    )
    assert (info.address, info.port, info.priv_level, info.cipher_suite) == (
        "fd00::5",
        6230,
        "OPERATOR",
        17,
    )
    assert info.password is not None and info.password.reveal() == "s3cret"
    assert "s3cret" not in repr(info)
    assert info.where == "IPMI BMC at [fd00::5]:6230"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_missing_address(value: Any) -> None:
    with pytest.raises(errors.MissingParameterValue, match="ipmi_address is required"):
        client.parse_driver_info({"ipmi_address": value})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ipmi_address", "http://bmc", "not a host name or IP address"),
        ("ipmi_address", "user@bmc", "not a host name or IP address"),
        ("ipmi_address", 5, "expected a string"),
        ("ipmi_port", "0", "not a port number"),
        ("ipmi_port", 70000, "not a port number"),
        ("ipmi_port", "x", "not a port number"),
        ("ipmi_port", True, "not a port number"),
        ("ipmi_username", 3, "expected a string"),
        ("ipmi_password", 3, "expected a string"),
        ("ipmi_password", "x" * 21, "at most 20 bytes"),
        ("ipmi_priv_level", "ROOT", "is not one of CALLBACK, USER, OPERATOR, ADMINISTRATOR"),
        ("ipmi_bridging", "single", "'single' is not supported"),
        ("ipmi_bridging", "dual", "'dual' is not supported"),
        ("ipmi_cipher_suite", "1", "is not one of 3, 17"),
    ],
)
def test_invalid_driver_info(key: str, value: Any, message: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match=f"Invalid driver_info {key}: ") as exc:
        client.parse_driver_info({"ipmi_address": "bmc", key: value})
    assert message in str(exc.value)
    if key == "ipmi_password":
        assert "x" * 21 not in str(exc.value)


def test_properties_describe_every_key() -> None:
    conf = make_conf()
    for interface in (IPMIPower(conf), IPMIManagement(conf)):
        properties = interface.get_properties()
        assert set(properties) == {
            "ipmi_address",
            "ipmi_port",
            "ipmi_username",
            "ipmi_password",
            "ipmi_priv_level",
            "ipmi_bridging",
            "ipmi_cipher_suite",
        }
        assert "Required" in properties["ipmi_address"]
    assert hardware.IPMIHardware.supported["power"] == ("ipmi",)
    assert hardware.IPMIHardware.supported["management"] == ("ipmi",)


def test_ipmi_password_is_a_secret_key() -> None:
    # sensitive.py decides by word: the API masks it and the database seals it.
    assert is_secret_key("ipmi_password")
    assert not is_secret_key("ipmi_username")


def test_validate_checks_driver_info_without_traffic() -> None:
    task = FakeTask(make_conf(), make_node({"ipmi_port": 623}, driver="ipmi"))
    for interface in (IPMIPower(task.conf), IPMIManagement(task.conf)):
        with pytest.raises(errors.MissingParameterValue):
            interface.validate(task)


# --- against the fake BMC ---------------------------------------------------------------


def test_power_actions(bmc_port: int) -> None:
    task = _task(bmc_port)
    power = IPMIPower(task.conf)
    assert power.get_power_state(task) == states.POWER_OFF
    power.set_power_state(task, states.POWER_ON, timeout=10)
    assert power.get_power_state(task) == states.POWER_ON
    power.set_power_state(task, states.POWER_ON, timeout=10)  # already on: nothing sent
    power.reboot(task, timeout=10)
    assert power.get_power_state(task) == states.POWER_ON
    power.set_power_state(task, states.SOFT_POWER_OFF, timeout=10)
    assert power.get_power_state(task) == states.POWER_OFF
    power.reboot(task, timeout=10, soft=True)  # off: powers on
    assert power.get_power_state(task) == states.POWER_ON
    power.set_power_state(task, states.POWER_OFF, timeout=10)
    assert power.get_power_state(task) == states.POWER_OFF
    assert states.SOFT_REBOOT in power.get_supported_power_states(task)
    with pytest.raises(errors.PowerStateFailure, match="not a state to set"):
        power.set_power_state(task, "sideways")


def test_power_wait_times_out(stuck_port: int) -> None:
    task = _task(stuck_port)
    started = time.monotonic()
    with pytest.raises(errors.PowerStateFailure) as raised:
        IPMIPower(task.conf).set_power_state(task, states.POWER_ON, timeout=1.5)
    assert 1.5 <= time.monotonic() - started < 10
    text = str(raised.value)
    assert text.startswith("Failed to set node power state to power on: ")
    assert "still reports power off 1.5 s later, not power on" in text
    assert f"IPMI BMC at 127.0.0.1:{stuck_port}" in text


def test_boot_devices(bmc_port: int) -> None:
    task = _task(bmc_port)
    management = IPMIManagement(task.conf)
    assert management.get_supported_boot_devices(task) == ["pxe", "disk", "cdrom", "bios", "safe"]
    for device in ("pxe", "disk", "cdrom", "bios", "safe"):
        management.set_boot_device(task, device, persistent=True)
        # pyghmi's BMC reports every override as for the next boot only
        assert management.get_boot_device(task) == {"boot_device": device, "persistent": False}
    with pytest.raises(errors.InvalidParameterValue, match="Invalid boot device 'floppy'"):
        management.set_boot_device(task, "floppy")


def test_inject_nmi(bmc_port: int, stuck_port: int) -> None:
    task = _task(bmc_port)
    IPMIManagement(task.conf).inject_nmi(task)  # Chassis Control 4, accepted
    refusing = _task(stuck_port)
    with pytest.raises(errors.BMCError, match="injecting an NMI"):
        IPMIManagement(refusing.conf).inject_nmi(refusing)


def test_wrong_password_is_not_retried_and_not_shown(bmc_port: int) -> None:
    task = _task(bmc_port, password=WRONG)
    with pytest.raises(errors.BMCError) as raised:
        IPMIPower(task.conf).get_power_state(task)
    text = str(raised.value)
    assert "refused the login (user 'admin', privilege ADMINISTRATOR" in text
    assert "check ipmi_username, ipmi_password and ipmi_priv_level" in text
    assert f"IPMI BMC at 127.0.0.1:{bmc_port}" in text
    assert WRONG not in text and PASSWORD not in text
    assert len(client.POOL) == 0


def test_silent_bmc_is_retried_then_a_bmc_error() -> None:
    port = _free_udp_port()  # nobody answers there
    task = _task(port)
    started = time.monotonic()
    with pytest.raises(errors.BMCError) as raised:
        IPMIPower(task.conf).get_power_state(task)
    elapsed = time.monotonic() - started
    text = str(raised.value)
    assert "after 2 attempts while logging in" in text, text
    assert f"IPMI BMC at 127.0.0.1:{port}" in text
    assert PASSWORD not in text
    assert elapsed < 30
    assert len(client.POOL) == 0


def test_unresolvable_host() -> None:
    node = make_node({"ipmi_address": "no-such-bmc.invalid"}, driver="ipmi")
    task = FakeTask(make_conf(), node)
    with pytest.raises(errors.BMCError) as raised:
        IPMIPower(task.conf).get_power_state(task)
    assert "cannot resolve the host name" in str(raised.value)
    assert "IPMI BMC at no-such-bmc.invalid:623" in str(raised.value)


def test_sessions_are_shared_while_in_use_and_closed_after(bmc_port: int) -> None:
    task = _task(bmc_port)
    with client.connect(task.conf, task) as first, client.connect(task.conf, task) as second:
        assert first.command is second.command
        assert len(client.POOL) == 1
    assert len(client.POOL) == 0


def test_many_calls_leak_no_threads_or_sockets(bmc_port: int) -> None:
    task = _task(bmc_port)
    power = IPMIPower(task.conf)
    power.get_power_state(task)  # pyghmi's I/O thread and its socket exist from here on
    threads = threading.active_count()
    fds = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(40):
        power.get_power_state(task)
    workers = [threading.Thread(target=power.get_power_state, args=(task,)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert threading.active_count() == threads
    assert len(list(Path("/proc/self/fd").iterdir())) <= fds
    assert len(client.POOL) == 0
