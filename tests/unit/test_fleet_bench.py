"""The fleet benchmark's bookkeeping: which phases run, the node it creates, the ratios it prints."""

from __future__ import annotations

import argparse

import pytest
from benchmarks.fleet_bench import (
    PhaseResult,
    TargetResult,
    comparison,
    goal_of,
    ledger_lines,
    node_body,
    percentiles,
    plan,
    process_counts,
    progress_records,
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
    return TargetResult(name, ["http://x"], [1], "1.33", "1.33", {}, idle, idle, peak, peak, phases)


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


def test_scale_out_counts() -> None:
    assert process_counts("1,2") == [1, 2]
    for bad in ("", "0,1", "two"):
        with pytest.raises(argparse.ArgumentTypeError, match="process counts"):
            process_counts(bad)


def test_goal_is_the_state_of_the_last_provision_phase() -> None:
    assert goal_of(ALL) == "available"
    assert goal_of(["create", "manage", "reads", "delete"]) == "manageable"
    assert goal_of(["create", "reads", "delete"]) == "enroll"


def test_progress_records_find_a_repeated_and_a_cut_short_job() -> None:
    steps = ["verify: started", "verify: done", "clean", "clean"]
    events = [(uuid, step, "c0") for uuid in ("a", "b", "c", "d") for step in steps]
    events += [("b", "verify: started", "c1"), ("b", "verify: done", "c1")]  # ran twice
    events.remove(("c", "clean", "c0"))  # one clean lost
    found = progress_records(["a", "b", "c", "d", "e"], events)
    assert found["record"] == {"verify: started": 1, "verify: done": 1, "clean": 2}
    assert found["repeated"] == {"b": {"verify: started": 1, "verify: done": 1}}
    # e recorded nothing at all: every step is missing.
    assert found["missing"] == {"c": {"clean": 1}, "e": found["record"]}
    assert found["events_by_conductor"] == {"c0": 15, "c1": 2}


def ledger(**changes: object) -> dict[str, object]:
    fine: dict[str, object] = {
        "goal": "available",
        "nodes": 3,
        "states": {"available": 3},
        "locked": {},
        "jobs_left": {},
        "record": {"verify: started": 1},
        "repeated": {},
        "missing": {},
        "events_by_conductor": {"c0": 2, "c1": 1},
        "nodes_after_delete": 0,
        "jobs_after_delete": {},
        "exit_statuses": {"c0": 0, "c1": 0},
    }
    return {**fine, **changes}


def checks(report: dict[str, object]) -> dict[str, str]:
    result = target("2-of-each", [], 1.0, 1.0)
    result.ledger = report
    lines = ledger_lines(result)
    assert lines[0] == "  checks of 2-of-each:"
    return {line.split()[0]: line for line in lines[1:]}


def test_ledger_lines_are_ok_for_a_clean_run() -> None:
    found = checks(ledger())
    assert all(" ok: " in line for name, line in found.items() if name != "work")
    assert found["lost"].endswith("ok: all 3 nodes available")
    assert found["work"].endswith("events by c0 67%, c1 33%")


def test_ledger_lines_name_each_problem() -> None:
    found = checks(
        ledger(
            states={"available": 2, "deploy failed": 1},
            locked={"u1": "c1"},
            repeated={"u2": {"verify: started": 1}},
            jobs_left={"deploy queued": 1},
            nodes_after_delete=1,
            exit_statuses={"c0": 0, "c1": -9},
        )
    )
    assert "PROBLEM u1: c1" in found["locked"]
    assert "PROBLEM deploy failed: 1" in found["lost"]
    assert "PROBLEM u2: {'verify: started': 1}" in found["duplicated"]
    assert "PROBLEM deploy queued: 1" in found["queue"]
    assert "PROBLEM nodes: 1" in found["leftovers"]
    assert "PROBLEM c1: -9" in found["exit"]
    assert " ok: " in found["cut"]
