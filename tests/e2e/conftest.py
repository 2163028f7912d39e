"""Fixtures the end-to-end modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import Image, serving_debian_image


@pytest.fixture(scope="module")
def debian_image() -> Iterator[Image]:
    """The cached Debian image, served over HTTP for the module's deploys."""
    with serving_debian_image() as image:
        yield image
