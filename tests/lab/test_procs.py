"""Processes are stopped by PID, with their process group, and never mistaken after reuse."""

import subprocess
import time
from pathlib import Path

from ironbound.lab import procs


def test_daemon_stop_takes_its_forked_helpers_along(tmp_path: Path) -> None:
    # socat forks a child per connection; stopping the daemon must stop those too.
    helper_file = tmp_path / "helper.pid"
    script = f"sleep 60 & echo $! > {helper_file}; wait"
    daemon = procs.Daemon("forker", ["sh", "-c", script], tmp_path / "log")
    try:
        procs.wait_until(lambda: helper_file.exists() and helper_file.read_text().strip() != "",
                         "helper pid", 5.0)  # fmt: skip
        helper = procs.ProcessRecord.of("helper", int(helper_file.read_text()))
    finally:
        daemon.stop(timeout=5.0)
    assert not daemon.record.alive()
    assert procs.wait_gone(helper, 5.0)


def test_a_record_does_not_match_a_new_process_with_the_same_pid() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    record = procs.ProcessRecord.of("sleeper", sleeper.pid)
    assert record.alive()
    stranger = procs.ProcessRecord(record.name, record.pid, record.ticks + 1)
    assert not stranger.alive()
    procs.stop_record(stranger)  # must not touch the real sleeper
    time.sleep(0.1)
    assert record.alive()
    procs.stop_record(record)
    sleeper.wait()
    assert not record.alive()
    assert procs.ProcessRecord.from_json(record.to_json()) == record


def test_secrets_are_masked_in_logged_commands() -> None:
    shown = procs.masked(["tgtadm", "--password", "Secret-1", "iscsi://u%Secret-1@h"], ["Secret-1"])
    assert "Secret-1" not in shown
    assert shown == "tgtadm --password ****** iscsi://u%******@h"
