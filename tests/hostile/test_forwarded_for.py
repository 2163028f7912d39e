"""A local client cannot claim another address through X-Forwarded-For.

The boot server pins a node's token to the TCP peer's address; uvicorn's defaults
trust X-Forwarded-For (and X-Forwarded-Proto) from 127.0.0.1, so a process on the
conductor's host could have claimed a pinned node's address. Both servers Ironbound
starts take the peer's address as it is (issue 24).
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ironbound import connections, service
from ironbound.lab.ports import free_tcp_port


async def _peer(request: Request) -> Response:
    return PlainTextResponse(f"{request.client.host if request.client else ''} {request.url}")


@pytest.fixture
def echo_url() -> Iterator[str]:
    """An app that answers with the client address it sees, served as Ironbound serves."""
    port = free_tcp_port()
    limits = connections.Limits("echo", max_connections=10, idle_timeout=5.0)
    server = service.http_server(Starlette(routes=[Route("/", _peer)]), "127.0.0.1", port, limits)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
            assert thread.is_alive(), "the server did not start"
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_forwarded_for_header_from_loopback_is_not_believed(echo_url: str) -> None:
    forged = {"X-Forwarded-For": "192.0.2.10", "X-Forwarded-Proto": "https"}
    with urllib.request.urlopen(urllib.request.Request(echo_url, headers=forged), timeout=10) as r:
        assert r.read().decode() == f"127.0.0.1 {echo_url}"
