"""An image_checksum URL is no way to read what a URL returns (issue 24): the checksums
file's body never reaches last_error, connection failures read the same whatever the
port holds, and last_error and event texts are bounded wherever they are written."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from oslo_config import cfg

from ironbound import errors
from ironbound.db import events, limits, nodes
from ironbound.images import fetch, source
from tests.images.servers import misbehaving

pytestmark = pytest.mark.timeout(60)
CREDENTIAL = '{"AccessKeyId":"ASIA-SECRET","SecretAccessKey":"wJalr-SECRET"}'


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"image.download_timeout": 1.0}


def _checksum_failure(conf: cfg.ConfigOpts, checksum_url: str) -> str:
    info = {"image_source": "http://127.0.0.1:9/os.raw", "image_checksum": checksum_url}
    with pytest.raises(errors.ImageError) as caught:
        fetch.fetch(source.image_ref(info, conf), conf, report=lambda _line: None)
    return str(caught.value)


def _serving(body: bytes, status: int = 200, reason: str = "OK") -> Any:
    def respond(handler: http.server.BaseHTTPRequestHandler, _stopping: threading.Event) -> None:
        handler.send_response(status, reason)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


@pytest.mark.parametrize(
    "body",
    [CREDENTIAL, f"{CREDENTIAL}  os.raw", f"SHA256 (os.raw) = {CREDENTIAL}", "md5:" + "a" * 32],
)
def test_the_checksums_files_body_never_reaches_the_error(conf: cfg.ConfigOpts, body: str) -> None:
    with misbehaving(_serving(body.encode())) as base:
        said = _checksum_failure(conf, f"{base}/SHA256SUMS")
    assert said.startswith(f"the checksums file at {base}/SHA256SUMS holds no checksum")
    assert "SECRET" not in said and "a" * 32 not in said


def test_the_servers_reason_phrase_never_reaches_the_error(conf: cfg.ConfigOpts) -> None:
    with misbehaving(_serving(b"", 403, f"Forbidden {CREDENTIAL}")) as base:
        said = _checksum_failure(conf, f"{base}/SHA256SUMS")
    assert "SECRET" not in said and "403" in said


@contextmanager
def _listening(behaviour: str) -> Iterator[int]:
    """A loopback port that refuses, closes at once, speaks garbage, or never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    if behaviour == "refused":
        server.close()
        yield port
        return
    server.listen()
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            if behaviour == "garbage":
                conn.recv(4096)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2 secret-banner\r\n")
            held.append(conn)
            if behaviour != "silent":
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_connection_failures_read_the_same_whatever_the_port_holds(
    conf: cfg.ConfigOpts, caplog: pytest.LogCaptureFixture
) -> None:
    said = set()
    for behaviour in ("refused", "closed", "garbage", "silent"):
        with _listening(behaviour) as port:
            url = f"http://127.0.0.1:{port}/SHA256SUMS"
            said.add(_checksum_failure(conf, url).replace(str(port), "PORT"))
    said.add(_checksum_failure(conf, "http://no-such-host.invalid/SHA256SUMS").replace(
        "no-such-host.invalid", "127.0.0.1:PORT"))  # fmt: skip
    assert len(said) == 1, said
    assert "secret-banner" not in next(iter(said))
    assert "secret-banner" not in caplog.text


def test_a_mismatch_does_not_tell_what_the_url_hashed_to(conf: cfg.ConfigOpts) -> None:
    with misbehaving(_serving(CREDENTIAL.encode())) as base:
        info = {"image_source": f"{base}/os.raw", "image_checksum": "1" * 64}
        with pytest.raises(errors.ImageError) as caught:
            fetch.fetch(source.image_ref(info, conf), conf, report=lambda _line: None)
    assert "does not match its checksum" in str(caught.value)
    assert "got" not in str(caught.value)


def test_last_error_and_event_texts_are_bounded_where_written(
    conf: cfg.ConfigOpts, services: Any, client: Any
) -> None:
    from tests.api.helpers import create_node  # noqa: PLC0415

    node = create_node(client)["uuid"]
    huge = "x" * (1 << 20)
    with services.db.write() as session:
        held = nodes.check_held(session, nodes.get_by_uuid(session, node).id, None)
        nodes.write_fields(session, held, {"last_error": huge})
        events.add(session, held.id, [events.Progress(huge)], None)
    shown = client.get(f"/v1/nodes/{node}").json()["last_error"]
    assert len(shown) == limits.MAX_TEXT and shown.endswith("...")
