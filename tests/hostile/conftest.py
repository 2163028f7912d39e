"""Fixtures of the hostile-input tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import create_node, power


@pytest.fixture
def off_node(client: TestClient) -> str:
    """A node powered off, so its volume targets may change."""
    uuid = str(create_node(client)["uuid"])
    power(client, uuid, "power off")
    return uuid
