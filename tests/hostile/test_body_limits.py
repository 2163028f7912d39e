"""Request bodies are bounded while they stream in, against a real `ironbound serve`.

An oversized Content-Length is refused before the body is read, a body
without one is cut off once past the limit, and a body that stops arriving
is answered 408 within [api]request_body_timeout while others are served.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.serving import Server, serve

LIMIT = 1024 * 1024
CONFIG = "[DEFAULT]\nauth_strategy = noauth\n[api]\nrequest_body_timeout = 2\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(Path(tmp_path_factory.mktemp("bodies")), CONFIG) as running:
        yield running


def _connect(server: Server) -> socket.socket:
    port = int(server.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def _head(extra: str) -> bytes:
    return (
        "POST /v1/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{extra}\r\n"
    ).encode()


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection.

    A server that closes with part of the body unread resets the connection,
    which can drop its answer: then the answer is what arrived before.
    """
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_an_oversized_content_length_is_refused_unread(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(_head(f"Content-Length: {100 * LIMIT}\r\n"))
        answer = _answer(sock)  # no byte of the body was sent
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"larger than 1 MiB" in answer


def test_a_chunked_body_past_the_limit_is_cut_off(server: Server) -> None:
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    sent = 0
    with _connect(server) as sock:
        sock.sendall(_head("Transfer-Encoding: chunked\r\n"))
        # Keep sending until the server answers; it must not wait for the end.
        while not select.select([sock], [], [], 0)[0] and sent < 64 * LIMIT:
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += 65536
        answer = _answer(sock)
    # Not read to its end: answered (or reset) long before 64 MiB.
    assert sent < 64 * LIMIT
    assert answer.startswith(b"HTTP/1.1 413 ") or not answer


def test_a_stalled_body_is_answered_408_while_others_are_served(server: Server) -> None:
    with _connect(server) as stalled:
        stalled.sendall(_head("Content-Length: 100\r\n") + b'{"driver": ')
        assert requests.get(f"{server.url}/v1/nodes", timeout=20).status_code == 200
        answer = _answer(stalled)  # within the 2 s bound, not the socket's 20 s timeout
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive within 2 s" in answer
    assert b"connection: close" in answer.lower()
