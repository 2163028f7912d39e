"""The dnsmasq DHCP provider: one host file and one option file per bootable node.

For node ``<uuid>`` the conductor writes

* ``<dhcp_hostsdir>/ironbound-<uuid>``: one ``dhcp-host`` line per pxe_enabled
  MAC, ``<mac>,set:ironbound,set:ironbound-<uuid>``;
* ``<dhcp_optsdir>/ironbound-<uuid>``: ``tag:ironbound-<uuid>,tag:ipxe,
  option:bootfile-name,<the node's script URL>``.

The static part of dnsmasq's configuration (`static_config`) tags iPXE
clients ``ipxe`` by their user class and gives ``ironbound``-tagged firmware
(not iPXE) the iPXE binary for its architecture; iPXE then gets the node's
own URL from the option file.

dnsmasq reads new and changed files in these directories without a restart
but forgets nothing when a file is deleted: a record stays until dnsmasq
restarts or another record for the same MAC replaces it. So withdrawing a
node rewrites its host file with ``<mac>,set:ironbound-withdrawn`` lines
(no boot file for those MACs) and deletes its option file (the URL, whose
token is revoked by then, leaves the disk; the option dnsmasq still holds
matches no host). A withdrawn host file is deleted by a later reconcile,
once dnsmasq has had `WITHDRAWN_GRACE` seconds to read it.

Every write goes to a dot-file in the same directory (dnsmasq ignores
dot-files), is flushed, and renamed over the target, so dnsmasq never reads
half a file. Files are mode 0640: they hold tokens.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from oslo_config import cfg

from ironbound import errors
from ironbound.dhcp.base import DHCPProvider, HostEntry

LOG = logging.getLogger(__name__)

PREFIX = "ironbound-"
TAG = "ironbound"
WITHDRAWN_TAG = "ironbound-withdrawn"
#: Seconds a withdrawn host file stays, so that dnsmasq reads it before it goes.
WITHDRAWN_GRACE = 60.0
FILE_MODE = 0o640
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
_NODE_FILE = re.compile(r"^ironbound-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\Z")


def node_tag(node_uuid: str) -> str:
    return f"{PREFIX}{node_uuid}"


def static_config(
    hostsdir: str,
    optsdir: str,
    leasefile: str,
    *,
    bios_binary: str = "undionly.kpxe",
    uefi_binary: str = "ipxe.efi",
) -> str:
    """The part of dnsmasq's configuration Ironbound's files rely on (see docs/boot.md).

    The operator adds the interface, the ``dhcp-range`` and, for the iPXE
    binaries, a TFTP server (``enable-tftp``/``tftp-root``, or ``dhcp-boot``'s
    server address).
    """
    return f"""\
# Ironbound writes one file per bootable node into these directories.
dhcp-hostsdir={hostsdir}
dhcp-optsdir={optsdir}
# The boot server serves a node only at an address leased here to its MAC.
dhcp-leasefile={leasefile}
# iPXE says who it is in its user class (option 77).
dhcp-userclass=set:ipxe,iPXE
# UEFI x86-64 firmware (client architecture 7 or 9, option 93).
dhcp-match=set:efi64,option:client-arch,7
dhcp-match=set:efi64,option:client-arch,9
# Firmware PXE of a node Ironbound deploys: load iPXE first.
dhcp-boot=tag:{TAG},tag:!ipxe,tag:!efi64,{bios_binary}
dhcp-boot=tag:{TAG},tag:!ipxe,tag:efi64,{uefi_binary}
# iPXE gets the node's own script URL from its file in dhcp-optsdir.
"""


def _atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename, the new file mode 0640 from the start."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None


def _macs(text: str | None) -> set[str]:
    """The MACs a host file names, published or withdrawn."""
    found = set()
    for line in (text or "").splitlines():
        mac = line.split(",", 1)[0].strip()
        if _MAC.match(mac):
            found.add(mac)
    return found


def _withdrawn(text: str | None) -> str:
    macs = sorted(_macs(text))
    return "# Ironbound: withdrawn\n" + "".join(f"{mac},set:{WITHDRAWN_TAG}\n" for mac in macs)


class DnsmasqProvider(DHCPProvider):
    name = "dnsmasq"
    active = True

    def __init__(self, hostsdir: Path, optsdir: Path) -> None:
        super().__init__()
        self.hostsdir = hostsdir
        self.optsdir = optsdir

    @classmethod
    def from_config(cls, conf: cfg.ConfigOpts) -> DnsmasqProvider:
        hostsdir, optsdir = conf.dnsmasq.dhcp_hostsdir, conf.dnsmasq.dhcp_optsdir
        if not hostsdir or not optsdir or not conf.dnsmasq.dhcp_leasefile:
            raise errors.DHCPError(
                provider=cls.name,
                reason="[dnsmasq]dhcp_hostsdir, dhcp_optsdir and dhcp_leasefile must all be "
                "set (dnsmasq's --dhcp-hostsdir, --dhcp-optsdir and --dhcp-leasefile)",
            )
        provider = cls(Path(hostsdir), Path(optsdir))
        for folder in (provider.hostsdir, provider.optsdir):
            try:
                folder.mkdir(mode=0o750, parents=True, exist_ok=True)
            except OSError as exc:
                raise errors.DHCPError(provider=cls.name, reason=str(exc)) from exc
        return provider

    def _host_file(self, node_uuid: str) -> Path:
        return self.hostsdir / node_tag(node_uuid)

    def _opts_file(self, node_uuid: str) -> Path:
        return self.optsdir / node_tag(node_uuid)

    @contextmanager
    def _files(self, doing: str) -> Iterator[None]:
        """Turn a file system error into DHCPError (what the flow records on the node)."""
        try:
            yield
        except OSError as exc:
            raise errors.DHCPError(provider=self.name, reason=f"cannot {doing}: {exc}") from exc

    def _write(self, path: Path, text: str) -> bool:
        """Write `text` unless the file already holds it; True if it was written."""
        with self._files(f"write {path}"):
            if _read(path) == text:
                return False
            _atomic_write(path, text)
        return True

    def publish(self, entry: HostEntry) -> None:
        tag = node_tag(entry.node_uuid)
        host_file = self._host_file(entry.node_uuid)
        # A MAC the node no longer has is withdrawn in the same file: dnsmasq
        # would otherwise keep booting it.
        with self._files(f"read {host_file.name}"):
            gone = sorted(_macs(_read(host_file)) - set(entry.macs))
        hosts = (
            f"# Ironbound: node {entry.node_uuid}\n"
            + "".join(f"{mac},set:{TAG},set:{tag}\n" for mac in entry.macs)
            + "".join(f"{mac},set:{WITHDRAWN_TAG}\n" for mac in gone)
        )
        opts = f"tag:{tag},tag:ipxe,option:bootfile-name,{entry.script_url}\n"
        # The option first: once dnsmasq tags the host, its URL is there.
        changed = self._write(self._opts_file(entry.node_uuid), opts)
        changed = self._write(host_file, hosts) or changed
        if changed:
            LOG.info("dnsmasq: published node %s for %d MAC(s)", entry.node_uuid, len(entry.macs))

    def withdraw(self, node_uuid: str) -> None:
        host_file, opts_file = self._host_file(node_uuid), self._opts_file(node_uuid)
        with self._files(f"read {host_file.name}"):
            current = _read(host_file)
        changed = current is not None and self._write(host_file, _withdrawn(current))
        with self._files(f"remove {opts_file.name}"):
            if opts_file.exists():
                opts_file.unlink()
                changed = True
        if changed:
            LOG.info("dnsmasq: withdrew node %s", node_uuid)

    def sync(self, entries: Iterable[HostEntry]) -> None:
        wanted = {entry.node_uuid: entry for entry in entries}
        for entry in wanted.values():
            self.publish(entry)
        for name in self._node_files(self.hostsdir) | self._node_files(self.optsdir):
            node_uuid = name.removeprefix(PREFIX)
            if node_uuid not in wanted:
                self.withdraw(node_uuid)
                self._forget_if_read(self._host_file(node_uuid))

    @staticmethod
    def _node_files(folder: Path) -> set[str]:
        """The names of Ironbound's node files in `folder` (others' files are left alone)."""
        try:
            return {p.name for p in folder.iterdir() if _NODE_FILE.match(p.name)}
        except FileNotFoundError:
            return set()

    @staticmethod
    def _forget_if_read(host_file: Path) -> None:
        """Delete a withdrawn host file dnsmasq has had time to read."""
        try:
            age = time.time() - host_file.stat().st_mtime
        except FileNotFoundError:
            return
        if age >= WITHDRAWN_GRACE:
            host_file.unlink(missing_ok=True)

    def published(self) -> set[str]:
        """The nodes whose MACs currently boot from Ironbound (for checks and tests)."""
        found = set()
        for name in self._node_files(self.hostsdir):
            if f",set:{TAG}," in (_read(self.hostsdir / name) or ""):
                found.add(name.removeprefix(PREFIX))
        return found
