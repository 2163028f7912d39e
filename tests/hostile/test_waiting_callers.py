"""Callers waiting for a conductor's answer hold no API thread.

With the conductor stopped, more validate calls than the threadpool has
threads (anyio's default is 40) wait for [conductor]sync_job_timeout; a
plain read must still be answered meanwhile, not after they give up.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from fastapi.testclient import TestClient

from ironbound.api.app import create_app
from ironbound.api.services import ApiServices
from ironbound.conductor.worker import Conductor
from tests.conftest import LATEST

WAITERS = 50


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"conductor.sync_job_timeout": 3.0}


@pytest.mark.parametrize("call", ["validate", "management/boot_device"])
def test_waiting_callers_do_not_starve_other_requests(
    client: TestClient, conductor: Conductor, services: ApiServices, call: str
) -> None:
    uuid = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    conductor.stop()
    answers: list[object] = []

    async def run() -> None:
        transport = httpx2.ASGITransport(app=create_app(services))
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers=LATEST, timeout=60
        ) as http:

            async def wait_for_conductor() -> None:
                answers.append((await http.get(f"/v1/nodes/{uuid}/{call}")).status_code)

            async with anyio.create_task_group() as group:
                for _ in range(WAITERS):
                    group.start_soon(wait_for_conductor)
                await anyio.sleep(0.5)
                answers.append(("read", (await http.get(f"/v1/nodes/{uuid}")).status_code))

    anyio.run(run)
    assert answers[0] == ("read", 200)
    assert answers[1:] == [503] * WAITERS
