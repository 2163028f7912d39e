"""Each way an attach can go wrong ends the deploy in `deploy failed` with the cause, and
leaves nothing attached: checked in Ironbound's API and in Cinder itself."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest

from ironbound.lab.cinder import CinderLab
from tests.cinder_support import attachments, enroll, wait_node
from tests.serving import Server

pytestmark = pytest.mark.cinder


def _initiator() -> str:
    return f"iqn.2026-12.org.ironbound.cinder:{secrets.token_hex(4)}"


def _deploy_fails(server: Server, node: str) -> dict[str, Any]:
    server.baremetal(f"node deploy {node}")
    shown = wait_node(
        server,
        node,
        lambda n: n["provision_state"] == "deploy failed" and not n["target_provision_state"],
        "deploy failed",
    )
    assert "volume_attachments" not in shown["driver_internal_info"]
    return shown


def _redeploy_after_fix(server: Server, node: str, volume_id: str) -> None:
    """The node is not stuck: point its boot target at a good volume and deploy again."""
    target = server.json(f"volume target list --node {node}")[0]["uuid"]
    server.baremetal(f"volume target set {target} --volume-id {volume_id}")
    server.baremetal(f"node deploy --wait 120 {node}")
    server.baremetal(f"node undeploy --wait 120 {node}")


def test_a_missing_volume(server: Server, cinder_lab: CinderLab) -> None:
    missing = str(uuid.uuid4())
    node = enroll(server, "missing-volume", [missing], _initiator())
    storage = {r["Interface"]: r for r in server.json(f"node validate {node}")}["storage"]
    assert storage["Result"] is False
    assert f"reading volume {missing}: Cinder answered 404" in storage["Reason"]
    failed = _deploy_fails(server, node)
    assert failed["last_error"].startswith("validate failed: storage:")
    assert f"reading volume {missing}: Cinder answered 404" in failed["last_error"]
    _redeploy_after_fix(server, node, cinder_lab.create_volume(1, name="after-missing"))


def test_a_volume_in_use_by_another_server(server: Server, cinder_lab: CinderLab) -> None:
    volume_id = cinder_lab.create_volume(1, name="held-elsewhere")
    other = str(uuid.uuid4())
    connector = {"initiator": _initiator(), "host": "elsewhere", "multipath": False}
    made = cinder_lab.request(
        "POST",
        "/attachments",
        {"attachment": {"volume_uuid": volume_id, "instance_uuid": other, "connector": connector}},
        microversion="3.44",
    )["attachment"]
    cinder_lab.request(
        "POST",
        f"/attachments/{made['id']}/action",
        {"os-complete": made["id"]},
        microversion="3.44",
    )
    cinder_lab.wait_volume_status(volume_id, "in-use")
    node = enroll(server, "in-use", [volume_id], _initiator())
    failed = _deploy_fails(server, node)
    assert f"volume {volume_id} is in-use by {other} and is not multiattach" in failed["last_error"]
    assert [a["instance"] for a in attachments(cinder_lab, volume_id)] == [other]


def test_a_back_end_that_refuses_the_attach(server: Server, cinder_lab: CinderLab) -> None:
    volume_id = cinder_lab.create_volume(1, name="refuse-attach-1")
    node = enroll(server, "refused", [volume_id], _initiator())
    failed = _deploy_fails(server, node)
    assert failed["last_error"].startswith(
        f"attach volumes failed: attaching volume {volume_id}: Cinder answered"
    )
    # Cinder kept the attachment it had reserved; Ironbound removed it.
    assert attachments(cinder_lab, volume_id) == []
    assert cinder_lab.volume(volume_id)["status"] == "available"


def test_a_volume_not_exported_over_iscsi(server: Server, cinder_lab: CinderLab) -> None:
    volume_id = cinder_lab.create_volume(1, name="not-iscsi-1")
    node = enroll(server, "not-iscsi", [volume_id], _initiator())
    failed = _deploy_fails(server, node)
    assert failed["last_error"] == (
        f"attach volumes failed: volume {volume_id} is exported over 'nfs', and Ironbound "
        "boots nodes from iSCSI volumes only"
    )
    assert attachments(cinder_lab, volume_id) == []
    assert cinder_lab.volume(volume_id)["status"] == "available"


def test_a_failed_second_volume_rolls_back_the_first(server: Server, cinder_lab: CinderLab) -> None:
    boot = cinder_lab.create_volume(1, name="rollback-boot")
    data = cinder_lab.create_volume(1, name="refuse-attach-2")
    node = enroll(server, "rollback", [boot, data], _initiator())
    failed = _deploy_fails(server, node)
    assert f"attaching volume {data}" in failed["last_error"]
    assert attachments(cinder_lab, boot) == []
    assert cinder_lab.volume(boot)["status"] == "available"
    targets = server.json(f"volume target list --node {node} --fields uuid properties")
    assert all(t["properties"] == {} for t in targets)
