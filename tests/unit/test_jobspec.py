"""Job arguments: each kind's record, stored as a JSON object in the row and read back."""

from __future__ import annotations

import pytest

from ironbound import jobspec
from ironbound.jobspec import BootDevice, BootEvent, JobKind, NoArgs, Power, Provision


@pytest.mark.parametrize(
    "args",
    [
        NoArgs(),
        Provision("rebuild"),
        Provision(),
        Power("power on", 30.0),
        Power("soft power off"),
        BootDevice("pxe", persistent=True),
        BootEvent("failed", {"errno": "0x410d613c"}),
        BootEvent(BootEvent.SETTLED),
    ],
    ids=repr,
)
def test_a_record_survives_its_row(args: NoArgs) -> None:
    assert type(args).from_row(args.row()) == args


def test_rows_written_before_the_records_read_as_they_did() -> None:
    """Jobs queued by an older Ironbound are still in the queue after an upgrade."""
    assert Provision.from_row({"action": "deploy"}) == Provision("deploy")
    assert Provision.from_row({}) == Provision(None)
    assert Power.from_row({"target": "rebooting", "timeout": 5}) == Power("rebooting", 5.0)
    assert BootDevice.from_row({"boot_device": "disk"}) == BootDevice("disk", False)
    report = {"event": "contested", "address": "192.0.2.7", "pinned": "192.0.2.8"}
    assert BootEvent.from_row(report).row() == report


def test_each_kind_names_its_record() -> None:
    assert JobKind.DEPLOY.arguments is Provision
    assert JobKind.ABANDONED_DEPLOY.arguments is Provision
    assert JobKind.POWER.arguments is Power
    assert JobKind.SET_BOOT_DEVICE.arguments is BootDevice
    assert JobKind.BOOT_EVENT.arguments is BootEvent
    assert JobKind.VALIDATE.arguments is jobspec.NoArgs
