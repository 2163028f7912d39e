"""What the volume target tests here share: a CHAP setting, a target POST."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import iscsi_properties

GOOD_CHAP = {"auth_method": "CHAP", "auth_username": "node-1", "auth_password": "Good-Secret-1"}


def post_target(client: TestClient, node: str, **properties: Any) -> Any:
    """POST an iSCSI boot target with these properties; the response, whatever it is."""
    body = {
        "node_uuid": node,
        "volume_type": "iscsi",
        "boot_index": 0,
        "volume_id": "vol-1",
        "properties": iscsi_properties(**properties),
    }
    return client.post("/v1/volume/targets", json=body)
