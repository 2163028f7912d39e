"""One `ironbound serve` pointed at the lab's real Cinder, for this package's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ironbound.lab.cinder import CinderLab
from tests.cinder_support import cinder_config
from tests.serving import Server, serve


@pytest.fixture(scope="package")
def server(cinder_lab: CinderLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("serve"), cinder_config(cinder_lab)) as running:
        yield running
