"""socat bridges from the guests' gateway (slirp's 10.0.2.2) to host loopback services.

Inside the namespace, slirp maps the guest's 10.0.2.2:<port> to the namespace's own
127.0.0.1:<port>. A socat there listens on that port and hands each connection through
a unix socket in the lab dir to a second socat on the host, which connects to the
service on the host's 127.0.0.1. Traffic thus only ever touches loopback addresses.
"""

from pathlib import Path

from ironbound.lab import ports, procs, tools
from ironbound.lab.libvirtd import check_socket_path
from ironbound.lab.netns import PrivateNamespace

GATEWAY = "10.0.2.2"
_TCP_LISTEN = "0A"


def _listens(pid: int, port: int) -> bool:
    """True when the process's network namespace has a listener on 127.0.0.1:port."""
    wanted = f"0100007F:{port:04X}"
    try:
        rows = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(row.split()[1] == wanted and row.split()[3] == _TCP_LISTEN for row in rows)


class Bridges:
    """Pairs of socat processes, one pair per forwarded port."""

    def __init__(self, socket_dir: Path, logdir: Path, namespace: PrivateNamespace) -> None:
        self.socket_dir = socket_dir
        self.logdir = logdir
        self.namespace = namespace
        self._daemons: list[procs.Daemon] = []

    @property
    def records(self) -> list[procs.ProcessRecord]:
        return [daemon.record for daemon in self._daemons]

    def add(self, name: str, guest_port: int, host_port: int) -> str:
        """Forward GATEWAY:guest_port (guest side) to 127.0.0.1:host_port; returns the former."""
        socat = tools.program("socat")
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        sock = self.socket_dir / f"{name}.sock"
        check_socket_path(sock)
        outer = procs.Daemon(
            f"bridge-{name}-host",
            [
                socat,
                f"UNIX-LISTEN:{sock},fork,unlink-early,mode=600",
                f"TCP:{ports.LOOPBACK}:{host_port}",
            ],
            self.logdir / f"bridge-{name}.log",
        )
        self._daemons.append(outer)
        procs.wait_until(sock.exists, f"bridge socket {sock}", 10.0, outer)
        inner = procs.Daemon(
            f"bridge-{name}-netns",
            self.namespace.enter(
                [
                    socat,
                    f"TCP-LISTEN:{guest_port},bind={ports.LOOPBACK},fork,reuseaddr",
                    f"UNIX-CONNECT:{sock}",
                ]
            ),
            self.logdir / f"bridge-{name}.log",
        )
        self._daemons.append(inner)
        procs.wait_until(
            lambda: _listens(inner.record.pid, guest_port),
            f"bridge listener on port {guest_port} in the lab namespace",
            10.0,
            inner,
        )
        return f"{GATEWAY}:{guest_port}"

    def stop(self) -> None:
        while self._daemons:
            self._daemons.pop().stop(timeout=5.0)
