"""Image servers that misbehave on purpose, on 127.0.0.1: what a hostile or broken
image_source does to a fetch."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ironbound.lab import fileserver

#: Answers one GET; the event is set when the server stops, so a dripping answer ends too.
Respond = Callable[[http.server.BaseHTTPRequestHandler, threading.Event], None]


@contextmanager
def misbehaving(respond: Respond) -> Iterator[str]:
    """A server answering every GET with `respond` while the block runs; yields its base URL."""
    stopping = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            try:
                respond(self, stopping)
            except OSError:  # the client went away: that is what the tests want of it
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            return None

    with fileserver.running(Handler) as base:
        try:
            yield base
        finally:
            stopping.set()  # before the server stops, so that no answer is left dripping


def dripping(every: float, declared: int = 1 << 30) -> Respond:
    """Declare `declared` bytes, then send one every `every` seconds: each read of the
    client gets something, so no per-read timeout ever fires."""

    def respond(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        while not stopping.wait(every):
            handler.wfile.write(b"\0")
            handler.wfile.flush()

    return respond


def sending(body: bytes, headers: dict[str, str], seen: list[dict[str, str]]) -> Respond:
    """Answer `body` with `headers` (its true length unless they say another); record each
    request's headers in `seen`."""

    def respond(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        seen.append(dict(handler.headers.items()))
        handler.send_response(200)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def streaming(chunk: bytes) -> Respond:
    """An endless body of `chunk`s with no length (it ends with the connection)."""

    def respond(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        while not stopping.is_set():
            handler.wfile.write(chunk)

    return respond
