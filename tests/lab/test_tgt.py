"""The private tgtd: targets, ACLs and (mutual) CHAP, checked with libiscsi's initiator."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound.lab import images, tools
from ironbound.lab.errors import LabError
from ironbound.lab.tgt import TgtServer

IQN = "iqn.2026-11.test.lab:vol1"
NODE = "iqn.2026-11.test.lab:node1"


@pytest.fixture
def tgt(lab_dir: Path) -> Iterator[TgtServer]:
    server = TgtServer(lab_dir / "tgt", second_portal=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert server.record is None


def _iscsi(program: str, url: str, *, user: str, password: str, node: str = NODE) -> str:
    """Run a libiscsi tool; credentials go through its environment, not the command line."""
    env = {**os.environ, "LIBISCSI_CHAP_USERNAME": user, "LIBISCSI_CHAP_PASSWORD": password}
    done = subprocess.run(
        [tools.program(program), "-i", node, url],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    return f"rc={done.returncode}\n{done.stdout}{done.stderr}"


def test_chap_target_lists_and_answers_inquiry(tgt: TgtServer, lab_dir: Path) -> None:
    disk = images.build_bios_disk(lab_dir / "boot.img", "TGT-TEST")
    tgt.add_target(IQN, disk)
    tgt.allow_initiator(IQN, NODE)
    tgt.add_chap(IQN, "node1", "Secret-Pass-1")
    for portal in tgt.host_portals:
        listing = _iscsi("iscsi-ls", f"iscsi://{portal}", user="node1", password="Secret-Pass-1")
        assert "rc=0" in listing
        assert f"Target:{IQN} Portal:{portal}" in listing
    inquiry = _iscsi(
        "iscsi-inq",
        f"iscsi://{tgt.host_portals[0]}/{IQN}/1",
        user="node1",
        password="Secret-Pass-1",
    )
    assert "rc=0" in inquiry
    assert "Product:VIRTUAL-DISK" in inquiry
    assert "Secret-Pass-1" not in tgt.show() + (lab_dir / "tgt" / "tgtd.log").read_text()


def test_wrong_chap_password_and_foreign_initiator_are_rejected(
    tgt: TgtServer, lab_dir: Path
) -> None:
    tgt.add_target(IQN, images.build_data_disk(lab_dir / "data.img", "DATA"))
    tgt.allow_initiator(IQN, NODE)
    tgt.add_chap(IQN, "node1", "Secret-Pass-1")
    url = f"iscsi://{tgt.host_portals[0]}/{IQN}/1"
    wrong = _iscsi("iscsi-inq", url, user="node1", password="Wrong-Pass")
    assert "rc=0" not in wrong
    assert "Authentication failure" in wrong
    other = "iqn.2026-11.test.lab:intruder"
    stranger = _iscsi("iscsi-inq", url, user="node1", password="Secret-Pass-1", node=other)
    assert "rc=0" not in stranger


def test_mutual_chap_checks_the_target_too(tgt: TgtServer, lab_dir: Path) -> None:
    tgt.add_target(IQN, images.build_data_disk(lab_dir / "data.img", "DATA"))
    tgt.allow_initiator(IQN)
    tgt.add_chap(
        IQN, "node1", "Secret-Pass-1", target_username="tgtuser", target_password="Target-Pass-1"
    )
    portal = tgt.host_portals[0]
    good = f"iscsi://{portal}/{IQN}/1?target_user=tgtuser&target_password=Target-Pass-1"
    bad = f"iscsi://{portal}/{IQN}/1?target_user=tgtuser&target_password=Not-The-Target"
    assert "rc=0" in _iscsi("iscsi-inq", good, user="node1", password="Secret-Pass-1")
    assert "rc=0" not in _iscsi("iscsi-inq", bad, user="node1", password="Secret-Pass-1")


def test_removed_target_disappears_and_accounts_are_global(tgt: TgtServer, lab_dir: Path) -> None:
    disk = images.build_data_disk(lab_dir / "data.img", "DATA")
    tgt.add_target(IQN, disk, lun=3)
    tgt.allow_initiator(IQN)
    tgt.add_chap(IQN, "node1", "Secret-Pass-1")
    second = "iqn.2026-11.test.lab:vol2"
    tgt.add_target(second, disk)
    tgt.allow_initiator(second)
    tgt.add_chap(second, "node1", "Secret-Pass-1")  # same account, bound again
    with pytest.raises(LabError, match="another password"):
        tgt.add_chap(second, "node1", "Different-Pass")
    tgt.remove_target(IQN)
    listing = _iscsi(
        "iscsi-ls", f"iscsi://{tgt.host_portals[0]}", user="node1", password="Secret-Pass-1"
    )
    assert IQN not in listing
    assert second in listing


def test_a_new_target_takes_a_tid_nobody_else_uses(tgt: TgtServer, lab_dir: Path) -> None:
    """Targets made behind the server's back (as Cinder's tgt-admin does) keep their tid."""
    disk = images.build_data_disk(lab_dir / "data.img", "DATA")
    foreign = "iqn.2026-11.test.lab:foreign"
    subprocess.run(
        [tools.program("tgtadm"), "-C", str(tgt.control_port), "--lld", "iscsi",
         "--mode", "target", "--op", "new", "--tid", "7", "--targetname", foreign],
        check=True,
        capture_output=True,
    )  # fmt: skip
    assert tgt.add_target(IQN, disk) == 8
    tgt.remove_target(IQN)
    assert tgt.add_target(IQN, disk) == 8
    shown = tgt.show()
    assert f"Target 7: {foreign}" in shown
    assert f"Target 8: {IQN}" in shown


def test_changed_chap_password_keeps_the_bindings(tgt: TgtServer, lab_dir: Path) -> None:
    tgt.add_target(IQN, images.build_data_disk(lab_dir / "data.img", "DATA"))
    tgt.allow_initiator(IQN)
    tgt.add_chap(
        IQN, "node1", "Secret-Pass-1", target_username="tgtuser", target_password="Target-Pass-1"
    )
    portal = tgt.host_portals[0]
    url = f"iscsi://{portal}/{IQN}/1?target_user=tgtuser&target_password=Target-Pass-1"
    tgt.change_chap_password("node1", "Secret-Pass-2")
    assert "rc=0" not in _iscsi("iscsi-inq", url, user="node1", password="Secret-Pass-1")
    assert "rc=0" in _iscsi("iscsi-inq", url, user="node1", password="Secret-Pass-2")
    tgt.change_chap_password("tgtuser", "Target-Pass-2")  # the outgoing account too
    assert "rc=0" not in _iscsi("iscsi-inq", url, user="node1", password="Secret-Pass-2")
    assert "rc=0" in _iscsi(
        "iscsi-inq", url.replace("Target-Pass-1", "Target-Pass-2"), user="node1",
        password="Secret-Pass-2",
    )  # fmt: skip
    with pytest.raises(LabError, match="no CHAP user"):
        tgt.change_chap_password("nobody", "Pass-3")
