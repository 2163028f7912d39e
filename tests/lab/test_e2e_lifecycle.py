"""Lab lifecycle: `ironbound lab up/status/down`, and cleanup after a failed start."""

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from ironbound.lab import lab_main, ports
from ironbound.lab.cli import NOT_RUNNING
from ironbound.lab.environment import Lab
from ironbound.lab.errors import LabError
from ironbound.lab.state import LabState

pytestmark = pytest.mark.e2e

RUN_LAB = "import sys; from ironbound.lab import lab_main; sys.exit(lab_main(sys.argv[1:]))"


def _read_facts(up: subprocess.Popen[str]) -> dict[str, object]:
    """`up` prints its facts as one indented JSON object once the lab runs."""
    assert up.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] != "}":
        line = up.stdout.readline()
        if not line:
            assert up.stderr is not None
            pytest.fail(f"`ironbound lab up` exited early:\n{up.stderr.read()}")
        lines.append(line.rstrip("\n"))
    facts: dict[str, object] = json.loads("\n".join(lines))
    return facts


def test_up_status_down(lab_dir: Path) -> None:
    workdir = lab_dir / "lab"
    argv = ["up", str(workdir), "--boot-port", str(ports.free_tcp_port()), "--single-portal"]
    argv += ["--machine", "demo-1,52:54:00:cc:00:01", "--machine", "demo-2,52:54:00:cc:00:02,uefi"]
    up = subprocess.Popen(
        [sys.executable, "-c", RUN_LAB, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        facts = _read_facts(up)
        assert facts["portals"] == ["10.0.2.2:3260"]
        assert facts["boot_server_url"] == "http://10.0.2.2:8080"
        machines = facts["machines"]
        assert isinstance(machines, list)
        assert [m["firmware"] for m in machines] == ["bios", "uefi"]
        url = f"{facts['redfish_url']}{machines[1]['redfish_system']}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert json.load(answer)["PowerState"] == "Off"
        assert lab_main(["status", str(workdir)]) == 0
        assert lab_main(["down", str(workdir)]) == 0
        assert up.wait(timeout=60) == 0
        assert lab_main(["status", str(workdir)]) == NOT_RUNNING
    finally:
        if up.poll() is None:
            lab_main(["down", str(workdir)])
            up.wait(timeout=60)
        for stream in (up.stdout, up.stderr):
            if stream is not None:
                stream.close()


def test_down_without_a_lab_is_a_clear_error(
    lab_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lab_main(["down", str(lab_dir)]) == 1
    assert f"no lab state in {lab_dir}" in capsys.readouterr().err


def test_a_failed_start_stops_what_had_started(lab_dir: Path) -> None:
    with socket.socket() as squatter:  # the Redfish port is taken: the last piece fails
        squatter.bind((ports.LOOPBACK, 0))
        squatter.listen()
        lab = Lab(
            lab_dir / "lab",
            boot_server_port=ports.free_tcp_port(),
            redfish_port=squatter.getsockname()[1],
        )
        with pytest.raises(LabError, match="sushy-emulator exited"):
            lab.start()
    state = LabState.load(lab_dir / "lab")
    assert state is not None
    assert state.processes == []
    assert state.tgt_control_port is not None  # tgtd, libvirtd and the bridges had started
