"""The cinder storage interface's decisions, without a Cinder: connector, refusals, data.

What Cinder itself answers is tested against the lab's real Cinder
(tests/cli/test_guide_cinder.py, tests/conductor/test_cinder_errors.py, tests/e2e).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ironbound import errors
from ironbound.config import load
from ironbound.drivers.storage import cinder
from ironbound.drivers.storage.cinder_client import Attachment, Volume
from ironbound.records import ConnectorInfo, NodeInfo
from tests.unit.drivers.redfish._support import FakeTask

NODE = str(uuid.uuid4())
INSTANCE = str(uuid.uuid4())


def _task(*connectors: tuple[str, str], attachments: dict[str, Any] | None = None) -> FakeTask:
    node = NodeInfo(
        id=1,
        uuid=NODE,
        name=None,
        driver="fake-hardware",
        driver_info={},
        driver_internal_info={"volume_attachments": attachments or {}},
        instance_info={},
        properties={},
        provision_state="deploying",
        target_provision_state="active",
        power_state=None,
        maintenance=False,
        interfaces={"storage": "cinder"},
        instance_uuid=INSTANCE,
    )
    records = [
        ConnectorInfo(uuid=str(i), type=t, connector_id=c) for i, (t, c) in enumerate(connectors)
    ]
    return FakeTask(conf=load(), node=node, volume_connectors=records)


def test_connector_from_an_iqn_and_an_ip_is_single_path() -> None:
    found = cinder.connector(_task(("iqn", "iqn.2026-12.org.example:n1"), ("ip", "192.0.2.5")))
    assert found["initiator"] == "iqn.2026-12.org.example:n1"
    assert found["ip"] == "192.0.2.5"
    assert found["host"] == NODE
    # Ironic says multipath whenever there are two records; one path is one path.
    assert found["multipath"] is False


def test_connector_with_two_ips_is_multipath() -> None:
    task = _task(("iqn", "iqn.2026-12.org.example:n1"), ("ip", "192.0.2.5"), ("ip", "192.0.2.6"))
    assert cinder.connector(task)["multipath"] is True


def test_connector_for_fibre_channel_lists_every_wwpn() -> None:
    task = _task(("wwpn", "21000024ff000001"), ("wwnn", "20000024ff000001"))
    found = cinder.connector(task)
    assert found["wwpns"] == ["21000024ff000001"]
    assert found["wwnns"] == ["20000024ff000001"]
    assert "initiator" not in found


def test_connector_without_an_initiator_says_what_to_add() -> None:
    with pytest.raises(errors.InvalidParameterValue, match="volume connector of type iqn"):
        cinder.connector(_task(("ip", "192.0.2.5")))


def _volume(status: str, *holders: str | None, multiattach: bool = False) -> Volume:
    return Volume(
        id="v1",
        status=status,
        multiattach=multiattach,
        attachments=tuple((f"a{i}", h) for i, h in enumerate(holders)),
    )


@pytest.mark.parametrize(
    ("volume", "allowed"),
    [
        (_volume("available"), True),
        (_volume("in-use", "someone-else"), False),
        (_volume("in-use", "someone-else", multiattach=True), True),
        (_volume("in-use", NODE), True),
        (_volume("in-use", INSTANCE), True),
        (_volume("in-use", None), False),
        (_volume("error"), False),
        (_volume("reserved"), False),
    ],
)
def test_who_may_attach(volume: Volume, allowed: bool) -> None:
    assert (cinder.refusal(volume, _task()) is None) is allowed


def test_an_attachment_this_node_recorded_is_not_someone_else() -> None:
    task = _task(attachments={"t1": {"attachment_id": "a0", "volume_id": "v1", "keys": []}})
    assert cinder.refusal(_volume("in-use", "old-server-id"), task) is None


def test_the_refusal_names_the_holder_and_the_way_out() -> None:
    reason = cinder.refusal(_volume("in-use", "server-9"), _task())
    assert reason is not None
    assert "in-use by server-9" in reason
    assert "not multiattach" in reason


def _attachment(info: dict[str, Any]) -> Attachment:
    return Attachment(
        id="a1", volume_id="v1", status="attached", instance=NODE, connection_info=info
    )


ISCSI_DATA = {
    "target_iqn": "iqn.2010-10.org.openstack:volume-v1",
    "target_portal": "10.0.2.2:3262",
    "target_lun": 1,
    "auth_method": "CHAP",
    "auth_username": "u",
    "auth_password": "p",
    "qos_specs": None,
    "cacheable": False,
}


def test_connection_data_flat_as_the_attachments_api_gives_it() -> None:
    info = {**ISCSI_DATA, "driver_volume_type": "iscsi", "attachment_id": "a1"}
    found = cinder.connection_data(_attachment(info))
    assert found["target_lun"] == 1
    assert found["auth_password"] == "p"
    assert not {"driver_volume_type", "attachment_id", "qos_specs", "cacheable"} & found.keys()


def test_connection_data_nested_as_the_legacy_actions_give_it() -> None:
    found = cinder.connection_data(_attachment({"driver_volume_type": "iscsi", "data": ISCSI_DATA}))
    assert found["target_iqn"] == "iqn.2010-10.org.openstack:volume-v1"


def test_a_volume_not_exported_over_iscsi_is_refused() -> None:
    info = {"driver_volume_type": "rbd", "name": "volumes/v1"}
    with pytest.raises(errors.StorageError, match="exported over 'rbd'"):
        cinder.connection_data(_attachment(info))


def test_iscsi_data_without_a_portal_is_refused() -> None:
    info = {"driver_volume_type": "iscsi", "target_iqn": "iqn.2010-10.org.openstack:volume-v1"}
    with pytest.raises(errors.StorageError, match="no target portal or IQN"):
        cinder.connection_data(_attachment(info))
