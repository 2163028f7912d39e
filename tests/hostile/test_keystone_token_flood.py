"""A flood of made-up Keystone tokens: a few validations at once, and known tokens still answer."""

from __future__ import annotations

import time

import anyio
import pytest

from ironbound import errors
from ironbound.api.auth import Authenticator
from ironbound.api.keystone import CHECK_THREADS
from tests.keystone_support import FakeKeystone, keystone_conf


def test_random_tokens_take_a_few_threads_and_known_tokens_stay_fast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keystone = FakeKeystone(monkeypatch, delay=0.1)
    keystone.add("known", ["member"])
    authenticator = Authenticator(keystone_conf())
    refused: list[str] = []
    known_took: list[float] = []

    async def attack() -> None:
        await authenticator.authenticate({"x-auth-token": "known"})  # remembered from now on

        async def forged(index: int) -> None:
            try:
                await authenticator.authenticate({"x-auth-token": f"forged-{index}"})
            except errors.NotAuthorized:
                refused.append(f"forged-{index}")

        async with anyio.create_task_group() as group:
            for index in range(40):
                group.start_soon(forged, index)
            await anyio.sleep(0.05)
            started = time.monotonic()
            await authenticator.authenticate({"x-auth-token": "known"})
            known_took.append(time.monotonic() - started)

    anyio.run(attack)
    assert len(refused) == 40
    assert len(keystone.calls) == 41  # each token once
    assert keystone.most_running == CHECK_THREADS
    assert known_took[0] < 0.05  # the flood (about a second) did not hold it up
