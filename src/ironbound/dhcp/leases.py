"""dnsmasq's lease file, read for the boot server: which MACs DHCP has leased an address to.

dnsmasq writes one line per lease (``--dhcp-leasefile``), rewriting the file
whenever a lease changes, before it answers the client:

* IPv4: ``<expiry> <mac> <address> <hostname> <client-id>``, the MAC as
  ``aa:bb:cc:dd:ee:ff`` for Ethernet, prefixed with its hardware type
  (``06-...``) for anything else;
* ``duid <server DUID>``: dnsmasq's own DHCPv6 identity, no lease;
* IPv6: ``<expiry> <IAID, T-prefixed for a temporary address> <address>
  <hostname> <client DUID>``. A DHCPv6 lease names no MAC: only a DUID-LL or
  DUID-LLT of Ethernet type carries one, so only those bind an address to
  a MAC. iPXE's DUID-UUID binds nothing.

An expiry of 0 is an infinite lease; any other is seconds since the epoch,
and a lease past it counts for nothing even while the line remains.

Reading costs little and is bounded: the parse is kept until the file's
identity, size or times change, and at most `MAX_BYTES` are read. dnsmasq
rewrites the file in place (not by a rename), so a read can meet a rewrite
half done. A read is kept only if the file did not change during it and
every line parsed; and, as git does for its racily clean index, a parse
of a file changed in the last `RACY_SECONDS` is not kept at all, since a
second rewrite within one timestamp tick would look unchanged. A file that
cannot be read whole and clean holds no leases (every address is refused),
which the log says at most once a minute.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger(__name__)

#: Far beyond dnsmasq's default dhcp-lease-max of 1000 leases (about 100 bytes each).
MAX_BYTES = 4 * 1024 * 1024
#: A file changed this recently is read again at the next question (see above).
RACY_SECONDS = 1.0
#: Attempts at a clean read before the file counts as holding no leases.
READ_ATTEMPTS = 3
#: At most one warning about an unreadable file in this many seconds.
WARN_EVERY = 60.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
_OTHER_HW = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{2}(:[0-9a-f]{2})*)?\Z")
_HEX = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2})*\Z")
_IAID = re.compile(r"^T?[0-9]{1,10}\Z")
_EXPIRY = re.compile(r"^[0-9]{1,20}\Z")
#: DUID-LLT (type 1) and DUID-LL (type 3) of hardware type 1 (Ethernet), then the MAC.
_DUID_LLT, _DUID_LL = "00:01:00:01:", "00:03:00:01:"


class LeaseFileError(ValueError):
    """A line that is not one dnsmasq writes (or a rewrite met half done)."""


@dataclass(frozen=True)
class Lease:
    expiry: int
    #: Lower case, colon separated; None where the lease names no Ethernet MAC.
    mac: str | None
    address: Address

    def current(self, now: float) -> bool:
        return self.expiry == 0 or now < self.expiry


def address(text: str) -> Address | None:
    """A client's address as the boot server sees it, an IPv4-mapped IPv6 one as IPv4."""
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _duid_mac(duid: str) -> str | None:
    """The MAC of a DUID-LL or DUID-LLT of Ethernet type, else None."""
    if duid.startswith(_DUID_LL):
        mac = duid.removeprefix(_DUID_LL)
    elif duid.startswith(_DUID_LLT) and len(duid) > len(_DUID_LLT) + 12:
        mac = duid[len(_DUID_LLT) + 12 :]  # past the 4 bytes of time: "tt:tt:tt:tt:"
    else:
        return None
    return mac if _MAC.match(mac) else None


def _lease(fields: list[str]) -> Lease:
    expiry, hw, addr, _hostname, client = fields
    clean = _EXPIRY.match(expiry) and (client == "*" or _HEX.match(client))
    found = address(addr) if clean else None
    if isinstance(found, ipaddress.IPv4Address) and ":" not in addr:
        if _MAC.match(hw):
            return Lease(int(expiry), hw, found)
        if _OTHER_HW.match(hw):
            return Lease(int(expiry), None, found)
    elif isinstance(found, ipaddress.IPv6Address) and _IAID.match(hw):
        return Lease(int(expiry), _duid_mac(client), found)
    raise LeaseFileError(f"not a dnsmasq lease: {' '.join(fields)[:200]!r}")


def parse(text: str) -> list[Lease]:
    """Every lease of a lease file's text.

    :raises LeaseFileError: a line dnsmasq does not write; the text is not to be trusted.
    """
    leases = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "duid" and _HEX.match(fields[1]):
            continue
        if len(fields) != 5:
            raise LeaseFileError(f"not a dnsmasq lease: {line[:200]!r}")
        leases.append(_lease(fields))
    return leases


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class LeaseFile:
    """dnsmasq's lease file at `path`, read again only when it changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] | None = None
        self._leases: dict[Address, list[Lease]] = {}
        self._warned = -WARN_EVERY

    def macs_at(self, client: str) -> frozenset[str]:
        """The MACs whose current lease holds the address `client`; none for anything else."""
        wanted = address(client)
        if wanted is None:
            return frozenset()
        now = time.time()
        return frozenset(
            lease.mac
            for lease in self._current().get(wanted, ())
            if lease.mac is not None and lease.current(now)
        )

    def _current(self) -> dict[Address, list[Lease]]:
        """The leases by address, from the cache or a new read."""
        with self._lock:
            try:
                stamp = _stamp(self.path.stat())
            except OSError as exc:
                return self._unreadable(f"cannot read it: {exc.strerror}")
            if stamp == self._stamp:
                return self._leases
            return self._read()

    def _read(self) -> dict[Address, list[Lease]]:
        problem = "it changed during every read"
        for _ in range(READ_ATTEMPTS):
            try:
                with self.path.open("rb") as stream:
                    before = _stamp(os.fstat(stream.fileno()))
                    data = stream.read(MAX_BYTES + 1)
                    after = _stamp(os.fstat(stream.fileno()))
            except OSError as exc:
                return self._unreadable(f"cannot read it: {exc.strerror}")
            if len(data) > MAX_BYTES:
                return self._unreadable(f"it is larger than {MAX_BYTES} bytes")
            if before != after:
                continue
            try:
                leases: dict[Address, list[Lease]] = {}
                for lease in parse(data.decode("ascii")):
                    leases.setdefault(lease.address, []).append(lease)
            except (UnicodeDecodeError, LeaseFileError) as exc:
                problem = str(exc)
                continue
            racy = time.time() - after[3] / 1e9 < RACY_SECONDS
            self._stamp, self._leases = (None if racy else after), leases
            return leases
        return self._unreadable(problem)

    def _unreadable(self, why: str) -> dict[Address, list[Lease]]:
        """No leases (every address refused), said at most once every `WARN_EVERY` seconds."""
        self._stamp, self._leases = None, {}
        if time.monotonic() - self._warned >= WARN_EVERY:
            self._warned = time.monotonic()
            LOG.warning(
                "dnsmasq lease file %s holds no usable leases (%s): the boot server refuses "
                "every address until it does",
                self.path,
                why,
            )
        return {}
