"""Reading dnsmasq's lease file: which MACs hold an address now, at a bounded cost."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from ironbound.dhcp import leases
from ironbound.dhcp.leases import LeaseFile, LeaseFileError

MAC = "52:54:00:d7:00:01"
OTHER = "52:54:00:d7:00:02"
#: A lease file as dnsmasq 2.9x writes it: IPv4 leases, then its DUID, then IPv6 leases.
TEXT = f"""\
{{future}} {MAC} 10.213.7.10 node1 01:{MAC}
0 {OTHER} 10.213.7.11 * *
{{past}} 52:54:00:d7:00:03 10.213.7.12 gone *
{{future}} 06-aa:bb 10.213.7.13 token-ring *
duid 00:01:00:01:2e:3a:5c:11:52:54:00:aa:aa:aa
{{future}} 1234 fd00::10 * 00:03:00:01:{MAC}
{{future}} T99 fd00::11 * 00:01:00:01:2e:3a:5c:11:{OTHER}
{{future}} 7 fd00::12 * 00:04:de:ad:be:ef:00:00:00:00:00:00:00:00:00:00:00:00
"""


def _text(now: float | None = None) -> str:
    now = time.time() if now is None else now
    return TEXT.format(future=int(now) + 600, past=int(now) - 1)


def _file(tmp_path: Path, text: str, *, age: float = 10.0) -> LeaseFile:
    """A lease file last changed `age` seconds ago (older than the racy second)."""
    path = tmp_path / "dnsmasq.leases"
    path.write_text(text)
    then = time.time() - age
    os.utime(path, (then, then))
    return LeaseFile(path)


def _counted_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts parsed from now on."""
    parses: list[str] = []
    parse = leases.parse

    def counted(text: str) -> list[leases.Lease]:
        parses.append(text)
        return parse(text)

    monkeypatch.setattr(leases, "parse", counted)
    return parses


def test_every_kind_of_line_dnsmasq_writes_is_parsed() -> None:
    found = {(str(lease.address), lease.mac) for lease in leases.parse(_text())}
    assert found == {
        ("10.213.7.10", MAC),
        ("10.213.7.11", OTHER),
        ("10.213.7.12", "52:54:00:d7:00:03"),
        ("10.213.7.13", None),  # not Ethernet: no MAC to bind
        ("fd00::10", MAC),  # DUID-LL
        ("fd00::11", OTHER),  # DUID-LLT, a temporary address
        ("fd00::12", None),  # DUID-UUID (iPXE's): no MAC
    }


@pytest.mark.parametrize(
    "line",
    [
        f"1700000000 {MAC} 10.213.7.10 node1",  # a line cut short
        f"1700000000 {MAC} 10.213.7.10 node1 * extra",
        f"17000x0000 {MAC} 10.213.7.10 node1 *",
        f"1700000000 {MAC[:-1]} 10.213.7.10 node1 *",
        f"1700000000 {MAC} 10.213.7.300 node1 *",
        f"1700000000 {MAC} fd00::10 node1 *",  # a MAC where an IPv6 lease has its IAID
        "1700000000 1234 10.213.7.10 node1 *",  # an IAID on an IPv4 lease
        f"1700000000 {MAC} ::ffff:10.213.7.10 node1 *",
        f"1700000000 {MAC} 10.213.7.10 node1 01:5",
    ],
)
def test_a_line_dnsmasq_does_not_write_makes_the_text_untrusted(line: str) -> None:
    with pytest.raises(LeaseFileError):
        leases.parse(line + "\n")


def test_an_address_belongs_to_the_macs_of_its_current_leases(tmp_path: Path) -> None:
    lease_file = _file(tmp_path, _text())
    assert lease_file.macs_at("10.213.7.10") == {MAC}
    assert lease_file.macs_at("::ffff:10.213.7.10") == {MAC}  # a dual-stack listener's view
    assert lease_file.macs_at("10.213.7.11") == {OTHER}  # an infinite lease
    assert lease_file.macs_at("10.213.7.12") == set()  # expired, though still listed
    assert lease_file.macs_at("10.213.7.13") == set()  # no Ethernet MAC
    assert lease_file.macs_at("fd00::10") == {MAC}
    assert lease_file.macs_at("fd00::11") == {OTHER}
    assert lease_file.macs_at("fd00::12") == set()
    assert lease_file.macs_at("10.213.7.99") == set()  # no lease
    assert lease_file.macs_at("testclient") == set()  # not an address


def test_two_leases_of_one_address_give_both_macs(tmp_path: Path) -> None:
    """dnsmasq moves an address between MACs; the file may briefly list both."""
    future = int(time.time()) + 600
    text = f"{future} {MAC} 10.213.7.10 * *\n{future} {OTHER} 10.213.7.10 * *\n"
    assert _file(tmp_path, text).macs_at("10.213.7.10") == {MAC, OTHER}


def test_the_file_is_parsed_again_only_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = _counted_parses(monkeypatch)
    lease_file = _file(tmp_path, _text())
    for _ in range(5):
        assert lease_file.macs_at("10.213.7.10") == {MAC}
    assert len(parses) == 1
    future = int(time.time()) + 600
    _file(tmp_path, f"{future} {OTHER} 10.213.7.10 * *\n")  # dnsmasq gave it to another MAC
    assert lease_file.macs_at("10.213.7.10") == {OTHER}
    assert len(parses) == 2


def test_a_file_changed_within_the_racy_second_is_read_at_every_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second rewrite within one timestamp tick would look unchanged, so a fresh file's
    parse is not kept (as git treats a racily clean index)."""
    parses = _counted_parses(monkeypatch)
    lease_file = _file(tmp_path, _text(), age=0)
    for _ in range(3):
        assert lease_file.macs_at("10.213.7.10") == {MAC}
    assert len(parses) == 3


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "cannot read it"),
        (f"1700000000 {MAC} 10.213.7.", "not a dnsmasq lease"),  # a rewrite met half done
        ("x" * (leases.MAX_BYTES + 1), "larger than"),
        (b"\xff\xfe", "codec"),
    ],
)
def test_a_file_that_cannot_be_read_clean_holds_no_leases_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | bytes | None, why: str
) -> None:
    path = tmp_path / "dnsmasq.leases"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    lease_file = LeaseFile(path)
    with caplog.at_level(logging.WARNING, logger="ironbound.dhcp.leases"):
        for _ in range(3):
            assert lease_file.macs_at("10.213.7.10") == set()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert why in warnings[0] and "refuses every address" in warnings[0]
    # Once dnsmasq writes a good file, it counts again.
    _file(tmp_path, _text())
    assert lease_file.macs_at("10.213.7.10") == {MAC}


def test_a_file_that_changes_during_every_read_holds_no_leases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lease_file = _file(tmp_path, _text())
    stats = iter(range(1000))
    real_fstat = os.fstat

    def moving_fstat(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        fields = list(st)
        fields[6] = st.st_size + next(stats)  # st_size: dnsmasq is writing
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", moving_fstat)
    assert lease_file.macs_at("10.213.7.10") == set()
