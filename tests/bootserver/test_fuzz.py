"""The boot server under random requests: never a 5xx, and nothing but one plain 404."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironbound.api.services import ApiServices
from ironbound.bootserver.app import create_boot_app

SEGMENTS = st.one_of(
    st.sampled_from(["boot", "mac", "events", "script.ipxe", "booting", "failed", "boot.ipxe"]),
    st.text(min_size=0, max_size=60),
    st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True),
    st.from_regex(r"([0-9a-f]{2}-){5}[0-9a-f]{2}", fullmatch=True),
)

BASE_URL = "http://192.0.2.1:8080"


@pytest.fixture
def boot(services: ApiServices) -> Iterator[TestClient]:
    app = create_boot_app(services.conf, services.db, services.box, services.signals)
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]),
    segments=st.lists(SEGMENTS, min_size=0, max_size=5),
    query=st.dictionaries(st.sampled_from(["errno", "x", ""]), st.text(max_size=20), max_size=2),
)
def test_random_requests(
    boot: TestClient, method: str, segments: list[str], query: dict[str, str]
) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    # An absolute URL: httpx refuses a relative one whose path starts with "//".
    response = boot.request(method, f"{BASE_URL}{path}", params=query)
    assert response.status_code < 500, (method, path, query)
    if path != "/boot.ipxe" or method not in ("GET", "HEAD"):
        assert response.status_code == 404, (method, path, query, response.status_code)
        if method != "HEAD":
            assert response.text == "Not found\n"
