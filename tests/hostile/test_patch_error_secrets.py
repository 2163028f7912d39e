"""A PATCH that fails does not quote back the secrets it carried."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import add, create_node, error, replace

SECRET = "s3cr3t-Never-Echo"


@pytest.mark.parametrize(
    "ops",
    [
        # Quoted whole: an unknown member, and a patch that does not apply.
        [{**add("/driver_info/ipmi_password", SECRET), "from": "/x"}],
        [replace("/driver_info/ipmi_password", SECRET)],
        [add("/driver_info/creds/0", {"user": "a", "password": SECRET})],
        [replace("/extra/x", {"nested": {"auth_token": SECRET}})],
        # The reason quotes the document, which holds what an earlier operation added.
        [add("/driver_info/password", SECRET), add("/driver_info/missing/x", 1)],
    ],
)
def test_patch_errors_mask_secret_values(client: TestClient, ops: list[dict[str, Any]]) -> None:
    node = create_node(client)["uuid"]
    message = error(client.patch(f"/v1/nodes/{node}", json=ops), 400)
    assert SECRET not in message
    assert "******" in message
