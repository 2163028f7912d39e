"""iSCSI names and portals: the syntax the API checks and the boot interface renders.

RFC 3720 names: ``iqn.YYYY-MM.reversed.domain[:anything]``, ``eui.`` plus 16
hex digits, or ``naa.`` plus 16 or 32 hex digits. Portals are
``host[:port]`` where an IPv6 host is written in brackets (``[fd00::1]:3260``)
so that the port can be told apart; iPXE needs the brackets too.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORT = 3260

_IQN = re.compile(
    r"^iqn\.\d{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
    r"(:[\x21-\x7e]+)?\Z",
    re.IGNORECASE,
)
_EUI = re.compile(r"^eui\.[0-9a-f]{16}\Z", re.IGNORECASE)
_NAA = re.compile(r"^naa\.([0-9a-f]{16}|[0-9a-f]{32})\Z", re.IGNORECASE)
_HOSTNAME = re.compile(
    r"^(?=.{1,253}\Z)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\Z",
    re.IGNORECASE,
)

NAME_RULE = (
    "iqn.YYYY-MM.reversed-domain[:identifier], eui.<16 hex digits> or "
    "naa.<16 or 32 hex digits>, at most 223 characters"
)
PORTAL_RULE = "host:port, with an IPv6 host in brackets ([fd00::1]:3260), port 1-65535"


def is_iscsi_name(value: str) -> bool:
    """Whether `value` is a valid iSCSI qualified name (IQN, EUI or NAA)."""
    return len(value) <= 223 and bool(_IQN.match(value) or _EUI.match(value) or _NAA.match(value))


@dataclass(frozen=True)
class Portal:
    host: str  # an IPv6 address without brackets, an IPv4 address or a host name
    port: int

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def uri_host(self) -> str:
        """The host as it goes into a URI: IPv6 in brackets."""
        return f"[{self.host}]" if self.is_ipv6 else self.host

    def __str__(self) -> str:
        return f"{self.uri_host()}:{self.port}"


def parse_portal(value: str) -> Portal:
    """Parse ``host[:port]``.

    :raises ValueError: with a message that says what is wrong.
    """
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"'{value}' opens a '[' for an IPv6 address but never closes it")
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise ValueError(f"'{host}' in '{value}' is not an IPv6 address") from exc
        port_text = rest[1:] if rest.startswith(":") else rest
        if rest and not rest.startswith(":"):
            raise ValueError(f"'{value}' has text after the IPv6 address that is not ':port'")
    else:
        if text.count(":") > 1:
            raise ValueError(f"'{value}' looks like an IPv6 address: write it as [address]:port")
        host, _, port_text = text.partition(":")
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            if not _HOSTNAME.match(host):
                raise ValueError(
                    f"'{host}' in '{value}' is neither an IP address nor a host name"
                ) from None
    port = DEFAULT_PORT
    if port_text:
        if not re.fullmatch(r"[0-9]{1,5}", port_text) or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"'{port_text}' in '{value}' is not a port number (1-65535)")
        port = int(port_text)
    return Portal(host=host, port=port)
