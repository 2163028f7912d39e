"""Fixtures for the lab tests: a stand-in boot server, and a check that nothing is left running."""

import http.server
import threading
from collections.abc import Iterator

import pytest

# Ironbound's generic entry script does the same: chain the per-node script by MAC.
ENTRY_SCRIPT = "#!ipxe\nchain /node-${mac:hexhyp}.ipxe\n"

TIMINGS: dict[str, float] = {}


class BootServer:
    """A tiny HTTP server on 127.0.0.1 serving iPXE scripts from memory."""

    def __init__(self) -> None:
        self.scripts: dict[str, str] = {"/boot.ipxe": ENTRY_SCRIPT}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.scripts.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def set_node_script(self, mac: str, script: str) -> None:
        self.scripts[f"/node-{mac.lower().replace(':', '-')}.ipxe"] = script

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture(scope="session")
def boot_server() -> Iterator[BootServer]:
    server = BootServer()
    yield server
    server.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("lab timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.2f} s")
