"""A folder served over HTTP on loopback: the operator's image server in the demo and tests.

It runs in a thread of the caller's process (nothing to stop by PID) and keeps
quiet: no access log, and a client that stops reading early (an oversized
image refused half-way) is no error.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return None


@contextmanager
def running(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A quiet server on 127.0.0.1 answering with `handler` while the block runs; yields
    the base URL."""
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """`root` served on 127.0.0.1 while the block runs; yields the base URL."""
    with running(functools.partial(_QuietHandler, directory=str(root))) as base:
        yield base
