"""The ipmi power and management interfaces against a real virtualbmc driving a lab machine.

The lab's private libvirtd holds the machine; virtualbmc (from the lab's cached venv)
serves it over IPMI on 127.0.0.1. What the interfaces do is checked in libvirt itself:
the domain's state and the <boot dev=...> of its definition.
"""

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound import errors, states
from ironbound.drivers.ipmi import client
from ironbound.drivers.ipmi.management import IPMIManagement
from ironbound.drivers.ipmi.power import IPMIPower
from ironbound.lab.environment import Lab
from ironbound.lab.machines import Machine
from tests.unit.drivers.redfish._support import FakeTask, make_conf, make_node

from .conftest import TIMINGS, BootServer

USER, PASSWORD = "admin", "Lab-Ipmi-Pass-1"


@pytest.fixture(scope="module")
def ipmi_lab(lab_root: Path, boot_server: BootServer) -> Iterator[tuple[Lab, Machine, int]]:
    with Lab(lab_root / "ipmi", boot_server_port=boot_server.port, second_portal=False) as lab:
        machine = lab.add_machine("vbmc0", "52:54:00:00:50:01")
        started = time.monotonic()
        address, port = lab.add_ipmi(machine, (USER, PASSWORD))
        TIMINGS["virtualbmc start"] = round(time.monotonic() - started, 2)
        assert address == "127.0.0.1"
        yield lab, machine, port


@pytest.fixture
def task(ipmi_lab: tuple[Lab, Machine, int]) -> FakeTask:
    _, _, port = ipmi_lab
    info = {
        "ipmi_address": "127.0.0.1",
        "ipmi_port": port,
        "ipmi_username": USER,
        "ipmi_password": PASSWORD,
        "ipmi_cipher_suite": "3",  # pyghmi's BMC (virtualbmc) answers in SHA1 only
    }
    # virtualbmc answers nothing while libvirt starts or destroys the domain: be patient
    conf = make_conf(**{"ipmi.command_retry_timeout": 10.0})
    return FakeTask(conf, make_node(info, driver="ipmi"))


def _domain_state(lab: Lab, machine: Machine) -> str:
    return lab._running_libvirtd().virsh("domstate", machine.name).strip()


def _boot_dev(lab: Lab, machine: Machine) -> str | None:
    xml = lab._running_libvirtd().virsh("dumpxml", "--inactive", machine.name)
    boot = ET.fromstring(xml).find("./os/boot")
    return None if boot is None else boot.get("dev")


def test_power_on_off_reboot_are_libvirt_states(
    ipmi_lab: tuple[Lab, Machine, int], task: FakeTask
) -> None:
    lab, machine, _ = ipmi_lab
    power = IPMIPower(task.conf)
    assert _domain_state(lab, machine) == "shut off"
    assert power.get_power_state(task) == states.POWER_OFF

    power.set_power_state(task, states.POWER_ON, timeout=60)
    assert _domain_state(lab, machine) == "running"
    assert power.get_power_state(task) == states.POWER_ON

    lab._running_libvirtd().virsh("destroy", machine.name)  # someone pulls the plug
    assert power.get_power_state(task) == states.POWER_OFF
    power.reboot(task, timeout=60)  # a reboot of a machine that is off powers it on
    assert _domain_state(lab, machine) == "running"

    power.reboot(task, timeout=60)
    assert _domain_state(lab, machine) == "running"

    power.set_power_state(task, states.POWER_OFF, timeout=60)
    assert _domain_state(lab, machine) == "shut off"
    assert power.get_power_state(task) == states.POWER_OFF
    assert len(client.POOL) == 0  # every session logged out


def test_boot_device_set_and_get(ipmi_lab: tuple[Lab, Machine, int], task: FakeTask) -> None:
    lab, machine, _ = ipmi_lab
    management = IPMIManagement(task.conf)
    for device, libvirt_dev in (("disk", "hd"), ("cdrom", "cdrom"), ("pxe", "network")):
        management.set_boot_device(task, device, persistent=True)
        assert _boot_dev(lab, machine) == libvirt_dev
        # virtualbmc reports every device as for the next boot only (see docs/ipmi.md)
        assert management.get_boot_device(task) == {"boot_device": device, "persistent": False}
    assert "pxe" in management.get_supported_boot_devices(task)


def test_wrong_password_is_a_bmc_error_without_the_password(
    ipmi_lab: tuple[Lab, Machine, int], task: FakeTask
) -> None:
    _, _, port = ipmi_lab
    wrong = "Wrong-Ipmi-Pass-9"
    info = {
        "ipmi_address": "127.0.0.1",
        "ipmi_port": port,
        "ipmi_username": USER,
        "ipmi_password": wrong,
        "ipmi_cipher_suite": 3,
    }
    bad = FakeTask(task.conf, make_node(info, driver="ipmi"))
    with pytest.raises(errors.BMCError) as raised:
        IPMIPower(bad.conf).get_power_state(bad)
    text = str(raised.value)
    assert f"127.0.0.1:{port}" in text
    assert "refused the login" in text
    assert wrong not in text and PASSWORD not in text


def test_many_calls_leak_no_threads_or_sockets(
    ipmi_lab: tuple[Lab, Machine, int], task: FakeTask
) -> None:
    power = IPMIPower(task.conf)
    power.get_power_state(task)  # pyghmi's I/O thread and socket exist from here on
    threads, fds = threading.active_count(), len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(30):
        power.get_power_state(task)
    assert threading.active_count() == threads
    assert len(list(Path("/proc/self/fd").iterdir())) <= fds
    assert len(client.POOL) == 0
