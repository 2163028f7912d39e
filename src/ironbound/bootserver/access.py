"""Who may fetch what from the boot server (docs/security.md, "The boot server").

A node's boot token is pinned to the first host that uses it in a boot
window, a window being opened when Ironbound powers the node on or reboots
it (a deploy's token serves nobody before that) and lasting as long as a
deploy waits for its boot: the host gets the node's chain and script (and
so its CHAP secrets), and only that host's reports count. Any other host
that asks for the node is refused with the same 404 as an unknown node, and
the first such refusal in a window is reported to the node's conductor as a
contested boot: in the deploy's window that fails the deploy, since two
hosts claim to be the node. Outside a window nothing but the pinned host is
served and nothing is written.

With a dnsmasq lease file (`[dnsmasq]dhcp_leasefile`) a host is heard at all
only from an address that DHCP currently leases to one of the node's
pxe_enabled MACs (`leased`); any other address is refused before the token
is looked at for pinning, and writes nothing (docs/security.md says why it
is not a contest).

Writes are bounded: a request writes only when it pins a token, opens a new
boot cycle (one script fetch event per cycle, however often the script is
fetched; at most `[bootserver]boot_cycles_per_minute` cycles a minute, the
script still served past that), reports (at most twice a cycle: `booting`, then `failed` if sanboot
fails or `up` when the operating system confirms it came up), or contests a
token for the first time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ironbound.db import jobs, tokens
from ironbound.db.base import utcnow
from ironbound.db.models import BootToken
from ironbound.db.session import Database
from ironbound.dhcp.leases import LeaseFile
from ironbound.jobspec import BootEvent, JobKind


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    #: A job was queued for the node's conductor (wake the workers).
    queued: bool = False


def leased(db: Database, leases: LeaseFile | None, node_id: int, address: str) -> bool:
    """Whether DHCP leases `address` to one of the node's pxe_enabled MACs; True
    without a lease file. An address with no current lease costs no query."""
    if leases is None:
        return True
    holders = leases.macs_at(address)
    if not holders:
        return False
    with db.read() as session:
        return not holders.isdisjoint(tokens.pxe_macs(session, node_id))


def _needs_write(row: BootToken, address: str) -> bool:
    """Only a new host in an open window writes: it pins the token, or contests it once."""
    if row.pinned_address == address or not tokens.window_open(row):
        return False
    return row.pinned_address is None or not row.contested


def admit(db: Database, node_id: int, row: BootToken, address: str) -> Verdict:
    """Whether `address` may use the node's token; pins it when it is the first."""
    if not _needs_write(row, address):
        return Verdict(row.pinned_address == address)
    with db.write() as session:
        current = tokens.get(session, node_id)
        if current is None or current.token_hash != row.token_hash:
            return Verdict(False)  # revoked or reissued meanwhile
        if not _needs_write(current, address):
            return Verdict(current.pinned_address == address)
        if current.pinned_address is None:
            current.pinned_address = address
            return Verdict(True)
        current.contested = True
        jobs.enqueue(
            session,
            node_id,
            JobKind.BOOT_EVENT,
            BootEvent("contested", {"address": address, "pinned": str(current.pinned_address)}),
        )
        return Verdict(False, queued=True)


#: The span over which a token's boot cycles are counted.
_MINUTE = dt.timedelta(minutes=1)


def _opens(row: BootToken, limit: int) -> bool:
    """Whether a fetch opens a boot cycle: not while one awaits its first report, and not
    past `limit` cycles in the current minute."""
    if row.awaiting_report and not row.handed_over:
        return False
    return row.cycles_since is None or utcnow() - row.cycles_since >= _MINUTE or row.cycles < limit


def _count_cycle(row: BootToken) -> None:
    if row.cycles_since is None or utcnow() - row.cycles_since >= _MINUTE:
        row.cycles_since, row.cycles = utcnow(), 0
    row.cycles += 1


def open_cycle(
    db: Database, node_id: int, row: BootToken, event: dict[str, str], limit: int
) -> bool:
    """Report `event` (the script was fetched, or could not be built) if it opens a
    boot cycle; True when it did.

    A cycle starts with a fetch and ends with the boot's report, so repeated
    fetches in one cycle add no events. A cycle whose script reported booting has
    handed over to the volume: a fetch after that is a new boot, up to `limit` a minute.
    """
    if not _opens(row, limit):
        return False
    with db.write() as session:
        current = tokens.get(session, node_id)
        if current is None or current.token_hash != row.token_hash or not _opens(current, limit):
            return False
        current.awaiting_report, current.handed_over, current.settle_at = True, False, None
        _count_cycle(current)
        jobs.enqueue(session, node_id, JobKind.BOOT_EVENT, BootEvent.from_row(event))
        return True


#: What a boot cycle takes after its script reported `booting`: sanboot's own failure,
#: or the booted operating system's confirmation.
AFTER_HANDOVER = frozenset({"failed", "up"})


def _accepts(row: BootToken, event: str) -> bool:
    """Before the handover a cycle takes `booting` or `failed`; after it, one of
    `AFTER_HANDOVER`, which ends the cycle."""
    if not row.awaiting_report:
        return False
    return event in AFTER_HANDOVER if row.handed_over else event != "up"


def close_cycle(db: Database, node_id: int, row: BootToken, report: dict[str, str]) -> bool:
    """Accept a report of the current boot cycle; False if the cycle takes no more.

    The script reports `booting` just before `sanboot`, which never returns when it
    works; when it fails (nothing bootable, no EFI loader at the path), the script
    reports `failed` too, and when it works the operating system may report `up`.
    So a cycle takes at most two reports.
    """
    event = report["event"]
    if not _accepts(row, event):
        return False
    with db.write() as session:
        current = tokens.get(session, node_id)
        if current is None or current.token_hash != row.token_hash or not _accepts(current, event):
            return False
        current.handed_over = event == "booting"
        current.awaiting_report = current.handed_over
        current.settle_at = None
        jobs.enqueue(session, node_id, JobKind.BOOT_EVENT, BootEvent.from_row(report))
        return True
