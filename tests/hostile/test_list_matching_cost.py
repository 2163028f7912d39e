"""Following list elements to keep their secrets costs time linear in the list, not quadratic.

Every PATCH of driver_info matches the new lists' elements to the stored
ones; a client controls both lists, up to a whole stored document (64 KiB).
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.api.helpers import create_node, ok, replace

ELEMENTS = 12_000  # "[1]," a piece: just under the 64 KiB a stored document may take


def test_replacing_a_long_list_with_a_different_one_is_quick(client: TestClient) -> None:
    node = create_node(client, driver_info={"l": [[1]] * ELEMENTS})["uuid"]
    started = time.monotonic()
    ops = [replace("/driver_info/l", [[2]] * (ELEMENTS - 1))]
    ok(client.patch(f"/v1/nodes/{node}", json=ops))
    # Quadratic matching took 15 s here; linear takes a fraction of a second.
    assert time.monotonic() - started < 3.0
