"""Fixtures: sushy-tools emulators on loopback, a configuration, a node per test.

Three emulators serve the whole session (each stopped by its PID at the end):

* ``fast_bmc``: 40 fake systems, no auth, plain HTTP, power changes land within
  1 s. Each test that changes power takes a system of its own (`system_id`),
  so tests neither share state nor depend on their order. Two more systems
  stay PoweringOn and PoweringOff until sent a reset.
* ``slow_bmc``: one system whose power changes land 30 s after the request, so a
  short wait times out for certain; also the BMC with exactly one system.
* ``secure_bmc``: the emulator as shipped (random 1-11 s power delay), behind
  HTTPS with a private CA and HTTP basic auth, with two systems.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from ._support import make_conf, watch_logs_for
from .emulator import SUSHY_TOOLS_HINT, Emulator, emulator_python, start_emulator

FAST_PASSWORD = "fast-bmc-Passw0rd-17"
BMC_USER = "admin"
BMC_PASSWORD = "s3cret-BMC-Passw0rd-42"
WRONG_PASSWORD = "wr0ng-Passw0rd-99"
PASSWORDS = (FAST_PASSWORD, BMC_PASSWORD, WRONG_PASSWORD)


@pytest.fixture(scope="session")
def sushy_tools_python() -> str:
    python = emulator_python()
    if python is None:
        pytest.fail(f"sushy-tools is not installed: {SUSHY_TOOLS_HINT}")
    return python


def _serve(python: str, folder: Path, **kwargs: Any) -> Iterator[Emulator]:
    emulator = start_emulator(python, folder, **kwargs)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def fast_bmc(
    sushy_tools_python: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulator]:
    yield from _serve(
        sushy_tools_python,
        tmp_path_factory.mktemp("fast-bmc"),
        systems=40,
        frozen_states=("PoweringOn", "PoweringOff"),
        power_delay=1,
    )


@pytest.fixture(scope="session")
def slow_bmc(
    sushy_tools_python: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulator]:
    yield from _serve(
        sushy_tools_python, tmp_path_factory.mktemp("slow-bmc"), systems=1, power_delay=30
    )


@pytest.fixture(scope="session")
def secure_bmc(
    sushy_tools_python: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulator]:
    yield from _serve(
        sushy_tools_python,
        tmp_path_factory.mktemp("secure-bmc"),
        systems=2,
        users={BMC_USER: BMC_PASSWORD},
        tls=True,
    )


@pytest.fixture(scope="session")
def _fast_systems(fast_bmc: Emulator) -> Iterator[str]:
    return iter(fast_bmc.system_ids)


@pytest.fixture
def system_id(_fast_systems: Iterator[str]) -> str:
    """A system of the fast BMC that no other test has touched (powered off)."""
    try:
        return next(_fast_systems)
    except StopIteration:
        pytest.fail("the fast emulator ran out of systems; raise `systems` in conftest")


@pytest.fixture
def fast_info(fast_bmc: Emulator, system_id: str) -> dict[str, object]:
    return {
        "redfish_address": fast_bmc.address,
        "redfish_system_id": system_id,
        "redfish_username": "ironbound",
        "redfish_password": FAST_PASSWORD,
    }


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    return make_conf()


@pytest.fixture(autouse=True)
def _no_password_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test runs with all loggers at DEBUG; no password may show in any record."""
    yield from watch_logs_for(caplog, PASSWORDS)
