"""The lab's real OpenStack Cinder: volumes, the attachments API and tgtd exports.

One CinderLab serves the whole module (and the session). What Cinder answers here is
what Ironbound's cinder storage interface has to handle.
"""

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions

from ironbound.lab import procs, tools
from ironbound.lab.cinder import CinderLab
from ironbound.lab.errors import LabError, MissingToolError
from ironbound.lab.state import LabState

from .conftest import TIMINGS

pytestmark = [
    pytest.mark.cinder,
]

NODE1 = "iqn.2026-12.org.example:node1"
NODE2 = "iqn.2026-12.org.example:node2"


def _connector(initiator: str = NODE1, host: str = "node1") -> dict[str, Any]:
    return {
        "initiator": initiator,
        "ip": "127.0.0.1",
        "host": host,
        "multipath": False,
        "platform": "x86_64",
        "os_type": "linux2",
    }


def _iscsi_inq(
    url: str, *, node: str, user: str, password: str
) -> subprocess.CompletedProcess[str]:
    """libiscsi's iscsi-inq on one LUN, with CHAP credentials in its environment.

    One LUN, not iscsi-ls of the portal: other tests' volumes may be exported by the same
    tgtd with their own CHAP accounts, and iscsi-ls logs in to every target it discovers.
    """
    env = {**os.environ, "LIBISCSI_CHAP_USERNAME": user, "LIBISCSI_CHAP_PASSWORD": password}
    return subprocess.run(
        [tools.program("iscsi-inq"), "-i", node, url],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


@pytest.fixture(scope="module")
def cinder(cinder_lab: CinderLab) -> CinderLab:
    for name, seconds in cinder_lab.timings.items():
        TIMINGS[f"cinder lab start, {name}"] = seconds
    return cinder_lab


def test_attach_exports_a_chap_target_and_detach_removes_it(cinder: CinderLab) -> None:
    bs = cinder.block_storage(as_service=True)
    volume_id = cinder.create_volume(name="attach-cycle")
    instance = str(uuid.uuid4())
    # openstacksdk sends `instance` as instance_uuid (an `instance_id` keyword is dropped)
    attachment = bs.create_attachment(volume_id, connector=_connector(), instance=instance)
    assert attachment.status == "reserved"
    info = attachment.connection_info
    assert info["driver_volume_type"] == "iscsi"
    iqn = f"iqn.2010-10.org.openstack:volume-{volume_id}"
    assert info["target_iqn"] == iqn
    assert info["target_portal"] == cinder.reported_portal
    assert info["target_lun"] == 1
    assert info["auth_method"] == "CHAP"
    assert info["auth_username"]
    assert info["auth_password"]
    assert info["attachment_id"] == attachment.id
    assert info["volume_id"] == volume_id
    assert info["access_mode"] == "rw"
    assert iqn in cinder.tgt.show()

    try:
        tools.program("iscsi-inq")
    except MissingToolError:
        pass
    else:
        url = f"iscsi://{cinder.host_portal}/{iqn}/1"
        good = _iscsi_inq(
            url, node=NODE1, user=info["auth_username"], password=info["auth_password"]
        )
        assert good.returncode == 0, good.stderr
        assert "DIRECT_ACCESS" in good.stdout
        bad = _iscsi_inq(url, node=NODE1, user=info["auth_username"], password="wrong-password")
        assert bad.returncode != 0
        assert "DIRECT_ACCESS" not in bad.stdout

    bs.complete_attachment(attachment)
    cinder.wait_volume_status(volume_id, "in-use", timeout=30)
    volume = cinder.request("GET", f"/volumes/{volume_id}", microversion="3.71")["volume"]
    assert [a["attachment_id"] for a in volume["attachments"]] == [attachment.id]
    assert volume["attachments"][0]["host_name"] == "node1"
    assert volume["attachments"][0]["server_id"] == instance
    listed = cinder.request("GET", f"/attachments?volume_id={volume_id}", microversion="3.71")
    assert [(a["id"], a["status"]) for a in listed["attachments"]] == [(attachment.id, "attached")]
    assert listed["attachments"][0]["instance"] == instance
    # as project "admin", like the raw calls: keystoneauth's noauth plugin would send "notused"
    assert [a.id for a in bs.attachments(volume_id=volume_id)] == [attachment.id]
    fetched = bs.get_attachment(attachment.id)
    assert (fetched.status, fetched.instance) == ("attached", instance)
    assert fetched.connection_info["target_iqn"] == iqn

    bs.delete_attachment(attachment)
    cinder.wait_volume_status(volume_id, "available", timeout=30)
    assert iqn not in cinder.tgt.show()
    bs.delete_volume(volume_id)


def test_a_second_attachment_to_an_in_use_volume_is_refused(cinder: CinderLab) -> None:
    bs = cinder.block_storage(as_service=True)
    volume_id = cinder.create_volume(name="single")
    first = bs.create_attachment(volume_id, connector=_connector(), instance=str(uuid.uuid4()))
    bs.complete_attachment(first)
    cinder.wait_volume_status(volume_id, "in-use", timeout=30)
    with pytest.raises(exceptions.BadRequestException) as refused:
        bs.create_attachment(
            volume_id, connector=_connector(NODE2, "node2"), instance=str(uuid.uuid4())
        )
    assert refused.value.status_code == 400
    assert "status must be available or downloading to reserve" in str(refused.value)
    assert "current status is in-use" in str(refused.value)
    bs.delete_attachment(first)
    cinder.wait_volume_status(volume_id, "available", timeout=30)


def test_a_multiattach_volume_takes_two_initiators(cinder: CinderLab) -> None:
    bs = cinder.block_storage(as_service=True)
    volume_id = cinder.create_volume(name="shared", multiattach=True)
    assert cinder.volume(volume_id)["multiattach"] is True
    attachments = []
    for initiator, host in ((NODE1, "node1"), (NODE2, "node2")):
        attachment = bs.create_attachment(
            volume_id, connector=_connector(initiator, host), instance=str(uuid.uuid4())
        )
        bs.complete_attachment(attachment)
        attachments.append(attachment)
    cinder.wait_volume_status(volume_id, "in-use", timeout=30)
    first, second = (a.connection_info for a in attachments)
    assert first["target_iqn"] == second["target_iqn"]
    assert first["auth_username"] == second["auth_username"]
    volume = cinder.request("GET", f"/volumes/{volume_id}", microversion="3.71")["volume"]
    assert {a["host_name"] for a in volume["attachments"]} == {"node1", "node2"}

    bs.delete_attachment(attachments[0])
    cinder.wait_volume_status(volume_id, "in-use", timeout=30)
    assert first["target_iqn"] in cinder.tgt.show()  # the other attachment keeps the export
    bs.delete_attachment(attachments[1])
    cinder.wait_volume_status(volume_id, "available", timeout=30)
    assert first["target_iqn"] not in cinder.tgt.show()


def test_an_attachment_reserved_without_connector_gets_one_later(cinder: CinderLab) -> None:
    bs = cinder.block_storage(as_service=True)
    volume_id = cinder.create_volume(name="reserve-first")
    reserved = bs.create_attachment(volume_id, instance=str(uuid.uuid4()))
    assert reserved.status == "reserved"
    assert reserved.connection_info == {}
    assert reserved.connector is None
    assert cinder.volume(volume_id)["status"] == "reserved"
    assert f"volume-{volume_id}" not in cinder.tgt.show()

    updated = bs.update_attachment(reserved, connector=_connector())
    assert updated.connection_info["target_iqn"] == f"iqn.2010-10.org.openstack:volume-{volume_id}"
    assert updated.connector["initiator"] == NODE1
    bs.complete_attachment(updated)
    cinder.wait_volume_status(volume_id, "in-use", timeout=30)
    bs.delete_attachment(updated)
    cinder.wait_volume_status(volume_id, "available", timeout=30)


def test_only_a_service_may_delete_an_instance_attachment(cinder: CinderLab) -> None:
    """Cinder's fix for bug 2004555: a user's delete of a connected instance attachment
    asks Nova; with no Nova in the catalog that is a 500. Without an instance it is fine."""
    user = cinder.block_storage()
    volume_id = cinder.create_volume(name="service-only")
    with_instance = user.create_attachment(
        volume_id, connector=_connector(), instance=str(uuid.uuid4())
    )
    with pytest.raises(exceptions.HttpException) as refused:
        user.delete_attachment(with_instance)
    assert refused.value.status_code == 500
    cinder.block_storage(as_service=True).delete_attachment(with_instance)
    cinder.wait_volume_status(volume_id, "available", timeout=30)

    without_instance = user.create_attachment(volume_id, connector=_connector())
    assert without_instance.connection_info["target_iqn"].endswith(volume_id)
    user.delete_attachment(without_instance)
    cinder.wait_volume_status(volume_id, "available", timeout=30)


def test_a_failed_start_stops_what_already_runs(
    lab_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[procs.ProcessRecord] = []

    def broken_cinder(self: CinderLab) -> None:
        state = LabState.load(self.workdir)
        assert state is not None
        started.extend(state.processes)
        raise LabError("cinder-api would not start")

    monkeypatch.setattr(CinderLab, "_start_cinder", broken_cinder)
    with pytest.raises(LabError, match="would not start"):
        CinderLab(lab_dir).start()
    assert {record.name for record in started} == {"epmd", "rabbitmq", "tgtd"}
    assert not [record for record in started if record.alive()]
    state = LabState.load(lab_dir)
    assert state is not None
    assert state.processes == []
