"""Pick free loopback ports and wait for listeners, for the daemons the lab starts."""

import socket

LOOPBACK = "127.0.0.1"


def free_tcp_port() -> int:
    """A port nobody listens on right now on 127.0.0.1 (the daemon binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def free_udp_port() -> int:
    """A UDP port nobody has bound right now on 127.0.0.1 (a daemon binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def udp_bound(port: int, host: str = LOOPBACK) -> bool:
    """True when some process has bound UDP host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def accepts(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
