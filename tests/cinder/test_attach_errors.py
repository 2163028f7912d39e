"""Each way an attach can go wrong ends the deploy in `deploy failed` with the cause, and
leaves nothing attached: checked in Ironbound's API and in Cinder itself."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.lab.cinder import CinderLab
from tests.api.helpers import ok, provision
from tests.cinder_support import attachments, enroll, targets

pytestmark = pytest.mark.cinder


def initiator() -> str:
    return f"iqn.2026-12.org.ironbound.cinder:{secrets.token_hex(4)}"


def deploy_fails(client: TestClient, node: str) -> dict[str, Any]:
    provision(client, node, "active", "deploy failed")
    shown: dict[str, Any] = ok(client.get(f"/v1/nodes/{node}"))
    assert "volume_attachments" not in shown["driver_internal_info"]
    return shown


def test_a_missing_volume(client: TestClient, cinder_lab: CinderLab) -> None:
    missing = str(uuid.uuid4())
    node = enroll(client, [missing], initiator())
    storage = ok(client.get(f"/v1/nodes/{node}/validate"))["storage"]
    assert storage["result"] is False
    assert f"reading volume {missing}: Cinder answered 404" in storage["reason"]
    failed = deploy_fails(client, node)
    assert failed["last_error"].startswith("validate failed: storage:")
    assert f"reading volume {missing}: Cinder answered 404" in failed["last_error"]
    # Not stuck: point the target at a volume that exists and deploy again.
    good = cinder_lab.create_volume(1, name="after-missing")
    target = targets(client, node)[0]["uuid"]
    patch = [{"op": "replace", "path": "/volume_id", "value": good}]
    ok(client.patch(f"/v1/volume/targets/{target}", json=patch))
    provision(client, node, "active", "active")
    provision(client, node, "deleted", "available")
    assert attachments(cinder_lab, good) == []


def test_a_volume_in_use_by_another_server(client: TestClient, cinder_lab: CinderLab) -> None:
    volume_id = cinder_lab.create_volume(1, name="held-elsewhere")
    other = str(uuid.uuid4())
    connector = {"initiator": initiator(), "host": "elsewhere", "multipath": False}
    body = {
        "attachment": {"volume_uuid": volume_id, "instance_uuid": other, "connector": connector}
    }
    made = cinder_lab.request("POST", "/attachments", body, microversion="3.44")["attachment"]
    complete = {"os-complete": made["id"]}
    cinder_lab.request("POST", f"/attachments/{made['id']}/action", complete, microversion="3.44")
    cinder_lab.wait_volume_status(volume_id, "in-use")
    node = enroll(client, [volume_id], initiator())
    failed = deploy_fails(client, node)
    assert f"volume {volume_id} is in-use by {other} and is not multiattach" in failed["last_error"]
    assert [a["instance"] for a in attachments(cinder_lab, volume_id)] == [other]


def test_a_back_end_that_refuses_the_attach(client: TestClient, cinder_lab: CinderLab) -> None:
    volume_id = cinder_lab.create_volume(1, name="refuse-attach-1")
    node = enroll(client, [volume_id], initiator())
    failed = deploy_fails(client, node)
    assert failed["last_error"].startswith(
        f"attach volumes failed: attaching volume {volume_id}: Cinder answered"
    )
    # Cinder kept the attachment it had reserved before its back end failed; Ironbound
    # removed it.
    assert attachments(cinder_lab, volume_id) == []
    assert cinder_lab.volume(volume_id)["status"] == "available"


def test_a_volume_not_exported_over_iscsi(client: TestClient, cinder_lab: CinderLab) -> None:
    volume_id = cinder_lab.create_volume(1, name="not-iscsi-1")
    node = enroll(client, [volume_id], initiator())
    failed = deploy_fails(client, node)
    assert failed["last_error"] == (
        f"attach volumes failed: volume {volume_id} is exported over 'nfs', and Ironbound "
        "boots nodes from iSCSI volumes only"
    )
    assert attachments(cinder_lab, volume_id) == []
    assert cinder_lab.volume(volume_id)["status"] == "available"


def test_a_failed_second_volume_rolls_back_the_first(
    client: TestClient, cinder_lab: CinderLab
) -> None:
    boot = cinder_lab.create_volume(1, name="rollback-boot")
    data = cinder_lab.create_volume(1, name="refuse-attach-2")
    node = enroll(client, [boot, data], initiator())
    failed = deploy_fails(client, node)
    assert f"attaching volume {data}" in failed["last_error"]
    assert attachments(cinder_lab, boot) == []
    assert cinder_lab.volume(boot)["status"] == "available"
    assert [t["properties"] for t in targets(client, node)] == [{}, {}]
