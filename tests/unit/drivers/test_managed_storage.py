"""The managed storage interface's rules that need no target: size, the multi-attach guard,
the tgt backend's undo of a half-made export."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ironbound import errors, records
from ironbound.drivers.storage.managed import interface
from ironbound.drivers.storage.managed.backend import Export
from ironbound.drivers.storage.managed.tgt import TgtBackend
from ironbound.sensitive import Secret
from tests.unit.drivers.redfish._support import FakeTask, make_conf, make_node

VOLUME = records.ManagedVolume(
    uuid="5b3a1d67-0000-4000-8000-000000000001",
    state=records.VOLUME_ATTACHED,
    size_bytes=1024**3,
    path="/nonexistent/v.img",
    target_iqn="iqn.2010-10.org.openstack:ironbound-x",
    lun=1,
    node_uuid="node-a",
    initiators={"node-a": "iqn.2026-12.org.example:a"},
)


def _task(**instance_info: Any) -> FakeTask:
    node = replace(make_node({}, driver="fake-hardware"), instance_info=instance_info)
    return FakeTask(conf=make_conf(**{"managed.max_volume_size_gb": 100}), node=node)


@pytest.mark.parametrize(("root_gb", "expected"), [(None, 10), (4, 4), ("7", 7), (100, 100)])
def test_the_size_is_root_gb_or_the_default(root_gb: Any, expected: int) -> None:
    task = _task() if root_gb is None else _task(root_gb=root_gb)
    assert interface.size_bytes(task) == expected * 1024**3


@pytest.mark.parametrize("root_gb", [0, -1, 101, "4.5", "four", True, "٣"])
def test_a_bad_root_gb_is_refused_with_the_limits(root_gb: Any) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="root_gb"):
        interface.size_bytes(_task(root_gb=root_gb))


def test_the_guard_names_the_holder_unless_the_volume_is_shareable() -> None:
    assert interface.refusal(VOLUME, "node-a") is None
    problem = interface.refusal(VOLUME, "node-b")
    assert problem is not None and "attached for node node-a" in problem
    assert interface.refusal(replace(VOLUME, shareable=True), "node-b") is None
    kept = replace(VOLUME, state=records.VOLUME_KEPT, initiators={})
    assert "kept for node node-a" in str(interface.refusal(kept, "node-b"))
    assert interface.refusal(replace(kept, node_uuid=None), "node-b") is None


class _FailingLun(TgtBackend):
    """tgtadm as a script: the LUN cannot be added; records every command."""

    def __init__(self) -> None:
        super().__init__(make_conf())
        self.commands: list[tuple[str, ...]] = []

    def _tgtadm(self, *args: str, secrets: Any = ()) -> str:
        self.commands.append(args)
        if args[:4] == ("--mode", "target", "--op", "show"):
            return "Target 3: iqn.other\n"
        if args[:2] == ("--mode", "logicalunit"):
            raise errors.StorageError("tgtadm --mode logicalunit failed: can't find the file")
        return ""


def test_a_half_made_export_is_removed() -> None:
    backend = _FailingLun()
    export = Export("iqn.x", 1, "/missing", ("iqn.i",), "user", Secret("password12345678"))
    with pytest.raises(errors.StorageError, match="logicalunit"):
        backend.export(export)
    assert ("--mode", "target", "--op", "new", "--tid", "4", "--targetname", "iqn.x") in (
        backend.commands
    )
    assert backend.commands[-2][:5] == ("--mode", "target", "--op", "delete", "--force")
    assert backend.commands[-1] == ("--mode", "account", "--op", "delete", "--user", "user")
