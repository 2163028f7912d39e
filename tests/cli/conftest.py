"""A real `ironbound serve` process, driven by the real `baremetal` CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.serving import Server, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("serve")) as running:
        yield running
