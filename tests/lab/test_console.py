"""The serial console watcher: escapes stripped, lines awaited, failures and timeouts reported."""

import threading
import time
from pathlib import Path

import pytest

from ironbound.lab.console import BootFailedError, ConsoleTimeoutError, SerialConsole, clean


def test_clean_strips_ansi_and_carriage_returns() -> None:
    raw = "\x1b[=3h\x1b[2J\x1b[01;01H\x1b[0m\x1b(BiPXE 1.0 \x1b[1m-- ok\x1b[0m\r\nnext\x08 line\r\n"
    assert clean(raw) == "iPXE 1.0 -- ok\nnext line\n"


def _append_later(path: Path, text: str, delay: float) -> threading.Thread:
    def write() -> None:
        time.sleep(delay)
        with path.open("a") as log:
            log.write(text)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_wait_for_sees_a_line_written_later(tmp_path: Path) -> None:
    console = SerialConsole(tmp_path / "serial.log")
    assert console.offset() == 0  # no file yet: libvirt creates it at power-on
    writer = _append_later(console.path, "\x1b[0mBooting\r\nMARKER-42 done\r\n", 0.3)
    match = console.wait_for(r"MARKER-\d+", timeout=5)
    writer.join()
    assert match.line == "MARKER-42 done"
    assert 0.2 < match.elapsed < 5
    assert match.offset == console.offset()


def test_wait_for_ignores_output_before_since(tmp_path: Path) -> None:
    console = SerialConsole(tmp_path / "serial.log")
    console.path.write_text("MARKER from the previous boot\n")
    since = console.offset()
    with pytest.raises(ConsoleTimeoutError, match="no line matching 'MARKER'"):
        console.wait_for("MARKER", timeout=0.3, since=since)


def test_fail_pattern_stops_the_wait_with_context(tmp_path: Path) -> None:
    console = SerialConsole(tmp_path / "serial.log")
    console.path.write_text(
        "Registered SAN device 0x80\r\n"
        "Could not open SAN device: Operation not permitted (http://ipxe.org/410d613c)\r\n"
    )
    with pytest.raises(BootFailedError) as failure:
        console.wait_for("MARKER", timeout=5, fail_on=[r"^Could not open SAN device"])
    assert "Operation not permitted" in str(failure.value)
    assert "Registered SAN device 0x80" in str(failure.value)


def test_a_line_written_in_pieces_is_matched_whole(tmp_path: Path) -> None:
    console = SerialConsole(tmp_path / "serial.log")
    console.path.write_text("IRONBOUND-ISCSI-SESSION tcp: [1] 10.0.2.2:3260,1 iqn.2010-10.org.op")
    writer = _append_later(console.path, "enstack:ironbound-42\r\n", 0.4)
    match = console.wait_for(r"IRONBOUND-ISCSI-SESSION ", timeout=5)
    writer.join()
    assert match.line.endswith("iqn.2010-10.org.openstack:ironbound-42")


def test_a_line_that_stalls_mid_way_is_never_matched_half(tmp_path: Path) -> None:
    """A guest under TCG can stall mid-line (here inside an escape) for longer than any wait."""
    console = SerialConsole(tmp_path / "serial.log")
    console.path.write_text("BIOS-DRIVE DISKS=0x02 DRIVE81=\x1b[0")
    with pytest.raises(ConsoleTimeoutError) as timeout:
        console.wait_for(r"^BIOS-DRIVE ", timeout=1.5)
    assert "DRIVE81=" in str(timeout.value)  # the report still shows the unended line
    with console.path.open("a") as log:
        log.write("mDATA-VOLUME-OK\r\n")
    match = console.wait_for(r"^BIOS-DRIVE ", timeout=1)
    assert match.line == "BIOS-DRIVE DISKS=0x02 DRIVE81=DATA-VOLUME-OK"
