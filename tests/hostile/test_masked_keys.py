"""Every key Ironic masks (oslo.utils' list) and a `--password X` inside a plain value are
sealed and shown masked, in the node document and in list pages (issue 24)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.db import nodes
from tests.api.helpers import create_node, ok

CLEAR = "Hunter2-clear"
KEYS = ["adminpass", "fernetkey", "sslkey", "encrypted_key", "rabbitcookie"]


@pytest.mark.parametrize("field", ["driver_info", "instance_info"])
def test_no_response_shows_what_ironic_would_mask(
    client: TestClient, services: ApiServices, field: str
) -> None:
    document = {key: f"{CLEAR}-{key}" for key in KEYS}
    document["kernel_append_params"] = f"quiet --password {CLEAR}"
    node = create_node(client, **{field: document})["uuid"]
    shown = [
        ok(client.get(f"/v1/nodes/{node}")),
        ok(client.get("/v1/nodes/detail")),
        ok(client.get(f"/v1/nodes?fields=uuid,{field}")),
    ]
    assert all(CLEAR not in str(page) for page in shown)
    assert ok(client.get(f"/v1/nodes/{node}"))[field]["kernel_append_params"].startswith("quiet")
    with services.db.read() as session:
        row = nodes.get_by_uuid(session, node)
        sealed = services.box.open(
            row.driver_secrets if field == "driver_info" else row.instance_secrets
        )
    assert sealed[f"/{KEYS[0]}"] == f"{CLEAR}-{KEYS[0]}"
    assert sealed["/kernel_append_params"] == f"quiet --password {CLEAR}"
