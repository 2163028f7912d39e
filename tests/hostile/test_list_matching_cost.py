"""Following list elements to keep their secrets costs work linear in the list, not quadratic.

Every PATCH of driver_info matches the new lists' elements to the stored
ones; a client controls both lists, up to a whole stored document (64 KiB).
Quadratic matching took 15 s of CPU for the PATCH below. Speed is measured
in benchmarks, so this counts the work instead: each element is keyed once.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound import sensitive
from tests.api.helpers import create_node, ok, replace

ELEMENTS = 12_000  # "[1]," a piece: just under the 64 KiB a stored document may take


def test_replacing_a_long_list_keys_each_element_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = create_node(client, driver_info={"l": [[1]] * ELEMENTS})["uuid"]
    keyed = 0
    original = sensitive._key

    def counting(element: Any) -> bytes:
        nonlocal keyed
        keyed += 1
        return original(element)

    monkeypatch.setattr(sensitive, "_key", counting)
    ok(client.patch(f"/v1/nodes/{node}", json=[replace("/driver_info/l", [[2]] * (ELEMENTS - 1))]))
    # A few passes over both lists (the update is worked out, then checked), each linear.
    assert 0 < keyed <= 4 * ELEMENTS
