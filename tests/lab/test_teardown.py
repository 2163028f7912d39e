"""Stopping a lab from its state file: every recorded process, newest first, despite failures."""

import os
import subprocess
from pathlib import Path

import pytest

from ironbound.lab import procs, teardown
from ironbound.lab.errors import LabError
from ironbound.lab.state import LabState


def test_every_recorded_process_is_stopped_even_if_one_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(3)]
    records = [procs.ProcessRecord.of(f"sleeper{i}", p.pid) for i, p in enumerate(sleepers)]
    asked: list[str] = []
    stop_record = procs.stop_record

    def refusing(record: procs.ProcessRecord, timeout: float = 10.0) -> None:
        asked.append(record.name)
        if record.name == "sleeper1":
            raise LabError("could not stop sleeper1")
        stop_record(record, timeout)

    monkeypatch.setattr(procs, "stop_record", refusing)
    state = LabState(owner=procs.ProcessRecord.of("lab", os.getpid()), processes=records)
    try:
        with pytest.raises(LabError, match="could not stop sleeper1"):
            teardown.stop_recorded(state)
        assert asked == ["sleeper2", "sleeper1", "sleeper0"]
        assert [record.alive() for record in records] == [False, True, False]
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
