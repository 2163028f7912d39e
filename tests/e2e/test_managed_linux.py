"""End to end: Ironbound owns the volume. It creates a managed volume on the lab's tgtd,
writes the Debian image onto it from qcow2 (served over HTTP, checksum verified), and the
machine boots Linux with / on that volume, as the guest itself reports on its console.

BIOS: the first boot writes a file on the volume; undeploy keeps the volume; the
redeploy does not write the image again and the second boot finds the file. Then tgtd
and Ironbound both restart while the node is active (tgtd forgets every export, as on a
host reboot) and a power cycle at the BMC boots the node again from the restored export.
UEFI: the same image boots, and undeploy deletes the volume.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import sushy
from sushy.auth import BasicAuth

from ironbound.lab.environment import Lab
from ironbound.lab.machines import Firmware, Machine
from tests.e2e.support import (
    BMC_PASSWORD,
    BMC_USER,
    IQN,
    Image,
    enroll,
    lab_started,
    lab_with_server,
    managed_config,
    server_config,
    wait_for_state,
)
from tests.serving import Server, serve

pytestmark = pytest.mark.e2e

TO_USERSPACE = {"bios": 240.0, "uefi": 300.0}
FAIL_ON = (r"^Could not open SAN device", r"Kernel panic", r"ALERT! ", r"Gave up waiting for root")
HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}


def _enroll(
    server: Server, lab: Lab, image: Image, firmware: Firmware, mac: str, keep: bool
) -> tuple[Machine, str]:
    machine = lab.add_machine(f"e2e-managed-{firmware}", mac, firmware)
    node = enroll(server, lab, machine, f"{IQN}:managed-{firmware}", storage="managed")
    server.baremetal(
        f"node set {node} --instance-info image_source={image.url} "
        f"--instance-info image_checksum=sha256:{image.checksum} --instance-info root_gb=2 "
        f"--instance-info keep_boot_volume={str(keep).lower()}"
    )
    server.baremetal(f"node manage --wait 60 {node}")
    server.baremetal(f"node provide --wait 60 {node}")
    return machine, node


def _report(machine: Machine, since: int, started: float, firmware: str) -> dict[str, str]:
    """The guest's own report, once it reached userspace: / is on an iSCSI disk."""
    found: dict[str, str] = {}
    for name in ("ROOT", "ISCSI-SESSION", "BOOT-COUNT", "USERSPACE"):
        match = machine.console.wait_for(
            rf"IRONBOUND-{name} ", timeout=TO_USERSPACE[firmware], since=since,
            started=started, fail_on=FAIL_ON,
        )  # fmt: skip
        found[name] = match.line
        print(f"  {firmware}: {match.elapsed:6.1f} s  {match.line[:100]}")
    assert re.search(r"source=/dev/sd[a-z]2 fstype=ext4 iscsi=session\d+$", found["ROOT"])
    return found


def _boot_count(report: dict[str, str]) -> tuple[int, str]:
    counted = re.search(r"n=(\d+) first-boot=(\S+)", report["BOOT-COUNT"])
    assert counted is not None, report
    return int(counted.group(1)), counted.group(2)


def _volumes(server: Server) -> list[dict[str, Any]]:
    response = requests.get(
        f"{server.url}/v1/volume/managed?detail=True", headers=HEADERS, timeout=10
    )
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["volumes"]
    return found


def _deploy(server: Server, machine: Machine, node: str, firmware: str) -> dict[str, str]:
    since, started = machine.console.offset(), time.monotonic()
    server.baremetal(f"node deploy {node}")
    report = _report(machine, since, started, firmware)
    wait_for_state(server, node, "active", timeout=120)
    return report


def test_bios_keep_redeploy_and_restart(debian_image: Image, lab_root: Path) -> None:
    image = debian_image
    with lab_started(lab_root, "managed-bios") as lab:
        config = server_config(lab) + managed_config(lab)
        folder = lab_root / "managed-bios-server"
        with serve(folder, config, boot_port=lab.boot_server_port) as server:
            machine, node = _enroll(server, lab, image, "bios", "52:54:00:e2:00:51", keep=True)
            first = _deploy(server, machine, node, "bios")
            count, first_boot = _boot_count(first)
            assert count == 1
            (volume,) = _volumes(server)
            assert volume["state"] == "attached" and volume["image"] == f"sha256:{image.checksum}"
            assert volume["target_iqn"] in first["ISCSI-SESSION"]

            server.baremetal(f"node undeploy --wait 120 {node}")
            (kept,) = _volumes(server)
            assert (kept["uuid"], kept["state"]) == (volume["uuid"], "kept")

            # The first boot's files survived, so the image was not written again either
            # (it holds no boot count: a rewrite would show n=1).
            second = _deploy(server, machine, node, "bios")
            assert _boot_count(second) == (2, first_boot)

        # A host reboot, as far as the storage goes: tgtd forgets every export.
        lab.tgt.stop()
        lab.tgt.start()
        assert volume["target_iqn"] not in lab.tgt.show()
        with serve(folder, config, boot_port=lab.boot_server_port) as server:
            deadline = time.monotonic() + 60
            while volume["target_iqn"] not in lab.tgt.show():
                assert time.monotonic() < deadline, "the export was not restored"
                time.sleep(0.5)
            since, started = machine.console.offset(), time.monotonic()
            bmc = sushy.Sushy(lab.redfish_url, auth=BasicAuth(BMC_USER, BMC_PASSWORD))
            bmc.get_system(machine.redfish_system).reset_system(sushy.ResetType.FORCE_RESTART)
            third = _report(machine, since, started, "bios")
            assert _boot_count(third) == (3, first_boot)
            server.baremetal(f"node set {node} --instance-info keep_boot_volume=false")
            server.baremetal(f"node undeploy --wait 120 {node}")
            assert _volumes(server) == []


def test_uefi_boots_the_same_image_and_undeploy_deletes_the_volume(
    debian_image: Image, lab_root: Path
) -> None:
    image = debian_image
    with lab_with_server(lab_root, "managed-uefi", managed_config) as (lab, server):
        machine, node = _enroll(server, lab, image, "uefi", "52:54:00:e2:00:52", keep=False)
        report = _deploy(server, machine, node, "uefi")
        assert _boot_count(report)[0] == 1
        (volume,) = _volumes(server)
        assert volume["target_iqn"] in report["ISCSI-SESSION"]
        backing = Path(volume["path"])
        assert backing.exists()
        server.baremetal(f"node undeploy --wait 120 {node}")
        assert _volumes(server) == []
        assert not backing.exists()
