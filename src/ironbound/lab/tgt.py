"""A private tgtd on the host loopback: iSCSI targets, ACLs and CHAP for the lab's volumes.

tgtd listens on 127.0.0.1 only and is driven through its own control port (-C), so it
never meets another tgtd on the machine. It ignores SIGTERM; it is stopped through
tgtadm, and killed by PID only as a last resort. CHAP passwords are never logged.
"""

import logging
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ironbound.lab import ports, procs, tools
from ironbound.lab.errors import LabError

log = logging.getLogger(__name__)

_IPC_DIR = Path("/run/tgtd")
_TARGET_LINE = re.compile(r"^Target (\d+): ", re.MULTILINE)
_IQN = re.compile(r"(iqn\.\d{4}-\d{2}\.[^\s:]+(:[^\s]+)?|eui\.[0-9A-Fa-f]{16})")


@dataclass
class _Target:
    tid: int
    iqn: str
    luns: dict[int, Path] = field(default_factory=dict)


def _tgtadm(control_port: int, *args: str, secrets: tuple[str, ...] = ()) -> str:
    return procs.run(
        [tools.program("tgtadm"), "-C", str(control_port), "--lld", "iscsi", *args],
        secrets=secrets,
        timeout=30.0,
    )


def _pick_control_port() -> int:
    """A control port whose IPC socket nobody uses (tgtd allows one daemon per port)."""
    for _ in range(100):
        port = random.randint(1024, 32767)  # noqa: S311 - tgtd caps -C at 32767; not a secret
        if not any(_IPC_DIR.glob(f"socket.{port}*")):
            return port
    raise LabError(f"no free tgtd control port found under {_IPC_DIR}")


def stop_tgtd(control_port: int, record: procs.ProcessRecord) -> None:
    """Delete every target, then ask tgtd to exit; kill it by PID if it does not."""
    if record.alive():
        try:
            shown = _tgtadm(control_port, "--mode", "target", "--op", "show")
            for tid in _TARGET_LINE.findall(shown):
                _tgtadm(control_port, "--mode", "target", "--op", "delete", "--force", "--tid", tid)
            _tgtadm(control_port, "--mode", "system", "--op", "delete")
        except LabError as exc:
            log.warning("tgtd did not stop cleanly through tgtadm: %s", exc)
        if not procs.wait_gone(record, 10.0):
            procs.stop_record(record, timeout=2.0)
    for leftover in _IPC_DIR.glob(f"socket.{control_port}*"):
        leftover.unlink(missing_ok=True)


class TgtServer:
    """tgtd with one portal (or two, for multipath) on 127.0.0.1 and a private control port."""

    def __init__(self, workdir: Path, *, second_portal: bool = False) -> None:
        self.workdir = workdir
        self.control_port = _pick_control_port()
        self.portal_ports = [ports.free_tcp_port()]
        if second_portal:
            self.portal_ports.append(ports.free_tcp_port())
        self._daemon: procs.Daemon | None = None
        self._targets: dict[str, _Target] = {}
        self._accounts: dict[str, str] = {}
        self._bindings: list[tuple[int, str, bool]] = []  # (tid, user, outgoing)

    @property
    def host_portals(self) -> list[str]:
        """Portals as seen from the host, e.g. ['127.0.0.1:41234']."""
        return [f"{ports.LOOPBACK}:{port}" for port in self.portal_ports]

    @property
    def record(self) -> procs.ProcessRecord | None:
        return None if self._daemon is None else self._daemon.record

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        first = f"portal={self.host_portals[0]}"
        self._daemon = procs.Daemon(
            "tgtd",
            [tools.program("tgtd"), "-f", "-C", str(self.control_port), "--iscsi", first],
            self.workdir / "tgtd.log",
        )
        procs.wait_until(
            lambda: ports.accepts(self.portal_ports[0]), "tgtd's portal", 15.0, self._daemon
        )
        for extra in self.host_portals[1:]:
            self._control("--mode", "portal", "--op", "new", "--param", f"portal={extra}")

    def _control(self, *args: str, secrets: tuple[str, ...] = ()) -> str:
        if self._daemon is None:
            raise LabError("tgtd is not running")
        self._daemon.check_running()
        return _tgtadm(self.control_port, *args, secrets=secrets)

    def _target(self, iqn: str) -> _Target:
        try:
            return self._targets[iqn]
        except KeyError:
            raise LabError(f"no target {iqn} on this tgtd") from None

    def _free_tid(self) -> int:
        """One above the highest tid tgtd shows: others (Cinder's tgt-admin) may add targets."""
        shown = [int(tid) for tid in _TARGET_LINE.findall(self.show())]
        return max(shown, default=0) + 1

    def add_target(self, iqn: str, backing_file: Path, *, lun: int = 1) -> int:
        """Create a target with one LUN; returns its tid. Nobody may log in until allowed."""
        if not _IQN.fullmatch(iqn):
            raise LabError(f"{iqn!r} is not an iSCSI qualified name")
        if iqn in self._targets:
            raise LabError(f"target {iqn} already exists")
        tid = self._free_tid()
        self._control("--mode", "target", "--op", "new", "--tid", str(tid), "--targetname", iqn)
        self._targets[iqn] = _Target(tid, iqn)
        self.add_lun(iqn, lun, backing_file)
        return tid

    def add_lun(self, iqn: str, lun: int, backing_file: Path) -> None:
        target = self._target(iqn)
        if not 1 <= lun <= 255:
            raise LabError(f"LUN {lun} out of range 1-255 (LUN 0 is tgtd's controller)")
        if not backing_file.is_file():
            raise LabError(f"backing file {backing_file} does not exist")
        self._control(
            "--mode", "logicalunit", "--op", "new", "--tid", str(target.tid),
            "--lun", str(lun), "--backing-store", str(backing_file.resolve()),
        )  # fmt: skip
        target.luns[lun] = backing_file

    def allow_initiator(self, iqn: str, initiator_name: str | None = None) -> None:
        """Let one initiator IQN in, or every initiator when none is given."""
        option = ["--initiator-address", "ALL"]
        if initiator_name is not None:
            option = ["--initiator-name", initiator_name]
        tid = str(self._target(iqn).tid)
        self._control("--mode", "target", "--op", "bind", "--tid", tid, *option)

    def _account(self, username: str, password: str) -> None:
        """tgtd accounts are global: create each user once, reuse it for other targets."""
        known = self._accounts.get(username)
        if known is None:
            self._control(
                "--mode", "account", "--op", "new", "--user", username, "--password", password,
                secrets=(password,),
            )  # fmt: skip
            self._accounts[username] = password
        elif known != password:
            raise LabError(f"CHAP user {username} already exists with another password")

    def add_chap(
        self,
        iqn: str,
        username: str,
        password: str,
        *,
        target_username: str | None = None,
        target_password: str | None = None,
    ) -> None:
        """Require CHAP for the target; the target_* pair is the outgoing (mutual CHAP) account.

        tgtd accepts one-way logins even with an outgoing account: only an initiator that
        sets reverse credentials makes it mutual.
        """
        target = self._target(iqn)
        tid = str(target.tid)
        self._account(username, password)
        self._control("--mode", "account", "--op", "bind", "--tid", tid, "--user", username)
        self._bindings.append((target.tid, username, False))
        if (target_username is None) != (target_password is None):
            raise LabError("mutual CHAP needs both target_username and target_password")
        if target_username is not None and target_password is not None:
            self._account(target_username, target_password)
            self._control(
                "--mode", "account", "--op", "bind", "--tid", tid,
                "--user", target_username, "--outgoing",
            )  # fmt: skip
            self._bindings.append((target.tid, target_username, True))

    def change_chap_password(self, username: str, password: str) -> None:
        """Give a CHAP account a new password, keeping its bindings (as a SAN admin would).

        tgtd cannot change an account's password: the account is deleted (which unbinds
        it everywhere), created again and bound again where it was. Sessions already
        logged in stay; the next login needs the new password.
        """
        if username not in self._accounts:
            raise LabError(f"no CHAP user {username} on this tgtd")
        bindings = [(tid, outgoing) for tid, user, outgoing in self._bindings if user == username]
        self._control("--mode", "account", "--op", "delete", "--user", username)
        del self._accounts[username]
        self._account(username, password)
        for tid, outgoing in bindings:
            self._control(
                "--mode", "account", "--op", "bind", "--tid", str(tid), "--user", username,
                *(["--outgoing"] if outgoing else []),
            )  # fmt: skip

    def remove_target(self, iqn: str) -> None:
        """Delete the target even with sessions logged in."""
        target = self._target(iqn)
        tid = str(target.tid)
        self._control("--mode", "target", "--op", "delete", "--force", "--tid", tid)
        del self._targets[iqn]
        self._bindings = [b for b in self._bindings if b[0] != target.tid]

    def show(self) -> str:
        """tgtadm's own description of targets, LUNs, ACLs and accounts (no passwords)."""
        return self._control("--mode", "target", "--op", "show")

    def accounts(self) -> str:
        """tgtadm's list of CHAP account names (global to tgtd; no passwords)."""
        return self._control("--mode", "account", "--op", "show")

    def stop(self) -> None:
        if self._daemon is None:
            return
        stop_tgtd(self.control_port, self._daemon.record)
        self._daemon.stop(timeout=2.0)
        self._daemon = None
        self._targets.clear()
        self._accounts.clear()
        self._bindings.clear()
