"""The tgt backend: targets on the Linux SCSI target framework's tgtd, through tgtadm.

tgtd keeps nothing across its own restart, and its CHAP accounts are global
(one namespace for every target): each volume therefore gets accounts named
after its target, and an account left by a crash is replaced, not reused.
LUN 0 is tgtd's own controller, so volumes are LUN 1 and up. Passwords are
passed on tgtadm's command line (it has no other way) and never logged.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import threading
from collections.abc import Sequence

from ironbound import errors
from ironbound.drivers.storage.managed.backend import CONFIG_DRIVE_LUN, Backend, Export

LOG = logging.getLogger(__name__)

_TARGET_LINE = re.compile(r"^Target (\d+): (\S+)$", re.MULTILINE)
#: One conductor's workers allocate target ids one at a time.
_TID_LOCK = threading.Lock()


class TgtBackend(Backend):
    """`Backend` on a tgtd reached through its control port."""

    @property
    def control_port(self) -> int:
        """Read at each call, like every option: a changed configuration applies at once."""
        return int(self.conf.managed.tgt_control_port)

    @property
    def timeout(self) -> float:
        return float(self.conf.managed.tgtadm_timeout)

    def _tgtadm(self, *args: str, secrets: Sequence[str] = ()) -> str:
        command = ["tgtadm", "-C", str(self.control_port), "--lld", "iscsi", *args]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError as exc:
            raise errors.StorageError(
                "tgtadm is not installed on the conductor's host (Debian package: tgt)"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise errors.StorageError(
                f"tgtadm {' '.join(args[:4])} took over {self.timeout:g} s (is tgtd on control "
                f"port {self.control_port} hung?)"
            ) from exc
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip()
            for secret in secrets:
                why = why.replace(secret, "******")
            raise errors.StorageError(
                f"tgtadm {' '.join(args[:4])} failed on tgtd control port {self.control_port}: "
                f"{why or f'exit status {done.returncode}'}"
            )
        return done.stdout

    def _targets(self) -> dict[str, int]:
        """Target IQN -> tid, as tgtd shows them now."""
        shown = self._tgtadm("--mode", "target", "--op", "show")
        return {iqn: int(tid) for tid, iqn in _TARGET_LINE.findall(shown)}

    def _tid(self, target_iqn: str) -> int:
        tid = self._targets().get(target_iqn)
        if tid is None:
            raise errors.StorageError(f"tgtd has no target {target_iqn}")
        return tid

    def _account(self, tid: int, username: str, password: str, *, outgoing: bool) -> None:
        self._drop_account(username)
        self._tgtadm(
            "--mode", "account", "--op", "new", "--user", username, "--password", password,
            secrets=(password,),
        )  # fmt: skip
        self._tgtadm(
            "--mode", "account", "--op", "bind", "--tid", str(tid), "--user", username,
            *(["--outgoing"] if outgoing else []),
        )  # fmt: skip

    def _drop_account(self, username: str) -> None:
        with contextlib.suppress(errors.StorageError):  # no such account: nothing to drop
            self._tgtadm("--mode", "account", "--op", "delete", "--user", username)

    def export(self, export: Export) -> None:
        with _TID_LOCK:
            tid = max(self._targets().values(), default=0) + 1
            self._tgtadm(
                "--mode", "target", "--op", "new", "--tid", str(tid),
                "--targetname", export.target_iqn,
            )  # fmt: skip
        try:
            if export.read_only:
                self._add_read_only(tid, export.lun, export.path)
            else:
                self._tgtadm(
                    "--mode", "logicalunit", "--op", "new", "--tid", str(tid),
                    "--lun", str(export.lun), "--backing-store", export.path,
                )  # fmt: skip
            if export.config_drive:  # read-only before any initiator is admitted
                self._add_read_only(tid, CONFIG_DRIVE_LUN, export.config_drive)
            for initiator in export.initiators:
                self._bind(tid, initiator)
            self._account(tid, export.username, export.password.reveal(), outgoing=False)
            if export.reverse_username and export.reverse_password:
                reverse = export.reverse_password.reveal()
                self._account(tid, export.reverse_username, reverse, outgoing=True)
        except errors.StorageError:
            self._remove(tid, export)
            raise

    def _bind(self, tid: int, initiator: str) -> None:
        self._tgtadm(
            "--mode", "target", "--op", "bind", "--tid", str(tid), "--initiator-name", initiator
        )  # fmt: skip

    def _remove(self, tid: int, export: Export) -> None:
        """Undo a half-made export, quietly: the first failure is what the caller reports."""
        try:
            self._tgtadm("--mode", "target", "--op", "delete", "--force", "--tid", str(tid))
        except errors.StorageError as exc:
            LOG.warning("Could not remove half-made target %s: %s", export.target_iqn, exc)
        for username in (export.username, export.reverse_username):
            if username:
                self._drop_account(username)

    def allow(self, target_iqn: str, initiator: str) -> None:
        self._bind(self._tid(target_iqn), initiator)

    def disallow(self, target_iqn: str, initiator: str) -> None:
        self._tgtadm(
            "--mode", "target", "--op", "unbind", "--tid", str(self._tid(target_iqn)),
            "--initiator-name", initiator,
        )  # fmt: skip

    def unexport(self, target_iqn: str, accounts: Sequence[str]) -> None:
        tid = self._targets().get(target_iqn)
        if tid is not None:
            self._tgtadm("--mode", "target", "--op", "delete", "--force", "--tid", str(tid))
        for username in accounts:
            self._drop_account(username)

    def _add_read_only(self, tid: int, lun: int, path: str) -> None:
        self._tgtadm(
            "--mode", "logicalunit", "--op", "new", "--tid", str(tid),
            "--lun", str(lun), "--backing-store", path,
        )  # fmt: skip
        try:
            self._tgtadm(
                "--mode", "logicalunit", "--op", "update", "--tid", str(tid),
                "--lun", str(lun), "--params", "readonly=1",
            )  # fmt: skip
        except errors.StorageError:
            self._drop_lun(tid, lun)  # never leave it writable
            raise

    def _drop_lun(self, tid: int, lun: int) -> None:
        with contextlib.suppress(errors.StorageError):  # no such LUN: nothing to drop
            self._tgtadm(
                "--mode", "logicalunit", "--op", "delete", "--tid", str(tid), "--lun", str(lun)
            )  # fmt: skip

    def set_config_drive(self, target_iqn: str, path: str | None) -> None:
        tid = self._tid(target_iqn)
        self._drop_lun(tid, CONFIG_DRIVE_LUN)
        if path is not None:
            self._add_read_only(tid, CONFIG_DRIVE_LUN, path)

    def targets(self) -> set[str]:
        return set(self._targets())

    def exists(self, target_iqn: str) -> bool:
        return target_iqn in self._targets()

    def acl(self, target_iqn: str) -> set[str] | None:
        shown = self._tgtadm("--mode", "target", "--op", "show")
        blocks = re.split(r"^Target \d+: ", shown, flags=re.MULTILINE)
        block = next((b for b in blocks if b.split("\n", 1)[0] == target_iqn), None)
        if block is None:
            return None
        found: set[str] = set()
        lines = block.split("\n    ACL information:\n", 1)[1:]
        for line in lines[0].splitlines() if lines else ():
            if not line.startswith("        "):
                break
            found.add(line.strip())
        return found
