"""The fleet benchmark's bookkeeping: which phases run, the node it creates, the ratios it prints."""

from __future__ import annotations

import pytest
from benchmarks.fleet_bench import (
    PhaseResult,
    TargetResult,
    comparison,
    node_body,
    percentiles,
    plan,
)

ALL = ["create", "manage", "provide", "deploy", "undeploy", "reads", "delete"]


@pytest.mark.parametrize(
    ("selected", "runs"),
    [
        (ALL, ALL),
        (["reads"], ["create", "reads", "delete"]),
        (["delete"], ["create", "delete"]),
        (["provide"], ["create", "manage", "provide", "delete"]),
        # Active nodes cannot be deleted: undeploy runs too.
        (["deploy"], ["create", "manage", "provide", "deploy", "undeploy", "delete"]),
        (["reads", "manage"], ["create", "manage", "reads", "delete"]),
    ],
)
def test_plan_adds_what_the_selected_phases_need(selected: list[str], runs: list[str]) -> None:
    assert plan(selected) == runs


def test_plan_names_the_phases_when_one_is_unknown() -> None:
    with pytest.raises(ValueError, match=r"\['inspect'\]; phases are create, manage"):
        plan(["inspect", "manage"])


def test_percentiles() -> None:
    cuts = percentiles([float(v) for v in range(1, 101)])
    assert cuts == pytest.approx({"p50": 50.5, "p95": 95.05, "p99": 99.01})
    assert percentiles([3.0]) == {"p50": 3.0, "p95": 3.0, "p99": 3.0}


def test_node_body_takes_fake_and_noop_interfaces_the_server_offers_at_the_version() -> None:
    driver = {
        "enabled_boot_interfaces": ["fake", "ipxe"],
        "enabled_console_interfaces": ["no-console"],  # no fake console: left to the default
        "enabled_network_interfaces": ["noop", "flat"],
        "enabled_storage_interfaces": ["cinder", "noop", "fake"],
    }
    assert node_body(driver, 33) == {
        "driver": "fake-hardware",
        "boot_interface": "fake",
        "network_interface": "noop",
        "storage_interface": "noop",
    }
    # storage_interface is refused before 1.33, the others before 1.31 (network: 1.20).
    assert node_body(driver, 30) == {"driver": "fake-hardware", "network_interface": "noop"}


def phase(name: str, seconds: float, cpu: float, items: int = 100) -> PhaseResult:
    return PhaseResult(name, items, seconds, cpu, pss_peak_mib=100.0, rss_peak_mib=120.0)


def target(name: str, phases: list[PhaseResult], idle: float, peak: float) -> TargetResult:
    return TargetResult(name, "http://x", 1, "1.33", "1.33", {}, idle, idle, peak, peak, phases)


def test_comparison_ratios_are_how_many_times_ironbound_is_ahead() -> None:
    ironic = target(
        "Ironic",
        [phase("deploy", 135.3, 40.0), phase("reads", 20.0, 30.0, items=860)],
        idle=188.0,
        peak=287.0,
    )
    ours = target(
        "Ironbound",
        [phase("create", 1.0, 1.0), phase("deploy", 29.1, 10.0),
         phase("reads", 20.0, 20.0, items=3280)],
        idle=94.0,
        peak=143.5,
    )  # fmt: skip
    lines = comparison(ironic, ours)
    deploy = next(line for line in lines if line.lstrip().startswith("deploy")).split()
    assert deploy[1:] == ["135.30", "29.10", "4.65x", "40.00", "10.00", "4.00x"]
    reads = next(line for line in lines if line.lstrip().startswith("reads")).split()
    # 164 req/s against 43 req/s; CPU per request 20/3280 s against 30/860 s.
    assert reads[1:] == ["43.0", "r/s", "164.0", "r/s", "3.81x", "30.00", "20.00", "5.72x"]
    assert not any(line.lstrip().startswith("create") for line in lines)  # Ironic has none
    assert lines[-1].strip() == "PSS MiB idle 188 / 94 (2.00x), peak 287 / 144 (2.00x)"
