"""A private libvirtd whose config, sockets, state and logs live in the lab dir.

As root, libvirtd always uses the system paths (/etc/libvirt, /run/libvirt,
/var/lib/libvirt, ...): a session daemon (qemu:///session) exists only for other users.
So the lab runs it inside its own mount namespace where those paths are bind mounts of
the lab dir, with private copies of /etc/passwd and /etc/group that also hold the
libvirt-qemu user and group Debian's libvirt looks up at start (libvirt-daemon-system
would otherwise add them to the host). Nothing on the host is changed.
"""

import contextlib
import shutil
from pathlib import Path

from ironbound.lab import procs, tools
from ironbound.lab.errors import LabError
from ironbound.lab.netns import PrivateNamespace

# qemu.conf: QEMU runs as root (so the capability cache stays valid: see the feasibility
# notes on /dev/kvm) and writes its stdout/stderr to a file, so no virtlogd is needed.
QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
"""
LIBVIRTD_CONF = """\
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:stderr"
"""
_MAX_SOCKET_PATH = 107
# Host paths the namespace's binds hide; a lab dir under them would vanish for libvirtd.
_HIDDEN = (Path("/var"), Path("/run"), Path("/etc/libvirt"))
_QEMU_USER = "libvirt-qemu"
_QEMU_GROUPS = ("libvirt-qemu", "kvm")
_FIRST_SYSTEM_ID = 64055


def check_socket_path(path: Path) -> None:
    """Unix socket paths are limited to 107 bytes; say so instead of failing obscurely."""
    if len(str(path).encode()) > _MAX_SOCKET_PATH:
        raise LabError(f"socket path {path} is too long for a unix socket: use a shorter lab dir")


def _with_entry(table: str, name: str, line_for_id: str) -> str:
    """Append name to a passwd/group text if absent, with an unused numeric id."""
    rows = [row.split(":") for row in table.splitlines() if row.strip()]
    if any(row[0] == name for row in rows):
        return table
    used = {row[2] for row in rows if len(row) > 2}
    new_id = next(str(i) for i in range(_FIRST_SYSTEM_ID, 1 << 31) if str(i) not in used)
    return table.rstrip("\n") + "\n" + line_for_id.format(name=name, id=new_id) + "\n"


class PrivateLibvirtd:
    """libvirtd in the lab namespace, reached from the host through its unix socket."""

    def __init__(self, root: Path, caps_cache: Path, logdir: Path) -> None:
        for path in (root, caps_cache):
            resolved = path.resolve()
            if any(resolved.is_relative_to(hidden) for hidden in _HIDDEN):
                raise LabError(
                    f"{path} is under /var, /run or /etc/libvirt, which the lab's private "
                    "libvirtd mounts over: choose another directory"
                )
        self.root = root
        self.caps_cache = caps_cache
        self.logdir = logdir
        self._daemon: procs.Daemon | None = None
        check_socket_path(self.socket)

    @property
    def socket(self) -> Path:
        return self.root / "run" / "libvirt" / "libvirt-sock"

    @property
    def uri(self) -> str:
        return f"qemu:///system?socket={self.socket}"

    @property
    def qemu_run_dir(self) -> Path:
        """Where libvirt keeps <domain>.pid files of running QEMUs, as seen from the host."""
        return self.root / "run" / "libvirt" / "qemu"

    @property
    def record(self) -> procs.ProcessRecord:
        if self._daemon is None:
            raise LabError("libvirtd is not running")
        return self._daemon.record

    def prepare(self) -> list[tuple[Path, Path]]:
        """Write a fresh config tree and return the binds the namespace must make, in order."""
        tools.file("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so")
        shutil.rmtree(self.root, ignore_errors=True)
        etc, run, var = self.root / "etc", self.root / "run", self.root / "var"
        for folder in (etc, run, var / "lib", var / "log", var / "tmp", var / "cache" / "libvirt"):
            folder.mkdir(parents=True)
        self.caps_cache.mkdir(parents=True, exist_ok=True)
        (var / "run").symlink_to("/run")
        (etc / "qemu.conf").write_text(QEMU_CONF)
        (etc / "libvirtd.conf").write_text(LIBVIRTD_CONF)
        passwd = _with_entry(
            Path("/etc/passwd").read_text(),
            _QEMU_USER,
            "{name}:x:{id}:{id}:libvirt QEMU (lab):/nonexistent:/usr/sbin/nologin",
        )
        group = Path("/etc/group").read_text()
        for name in _QEMU_GROUPS:
            group = _with_entry(group, name, "{name}:x:{id}:")
        (self.root / "passwd").write_text(passwd)
        (self.root / "group").write_text(group)
        return [
            (etc, Path("/etc/libvirt")),
            (self.root / "passwd", Path("/etc/passwd")),
            (self.root / "group", Path("/etc/group")),
            (run, Path("/run")),
            (var, Path("/var")),
            (self.caps_cache, Path("/var/cache/libvirt")),
        ]

    def start(self, namespace: PrivateNamespace, probe_timeout: float = 300.0) -> None:
        """Start libvirtd and let it probe QEMU's capabilities now, not at the first define.

        The probe takes 10-60 s under TCG on a small host; its result is cached in
        caps_cache, which later labs reuse while QEMU and libvirt are unchanged.
        """
        argv = namespace.enter([tools.program("libvirtd")], mount=True)
        self._daemon = procs.Daemon("libvirtd", argv, self.logdir / "libvirtd.log")
        procs.wait_until(self.socket.exists, "libvirtd's socket", 30.0, self._daemon)
        self.virsh(
            "domcapabilities",
            "--virttype",
            "qemu",
            "--arch",
            "x86_64",
            "--emulatorbin",
            tools.program("qemu-system-x86_64"),
            timeout=probe_timeout,
        )

    def virsh(self, *args: str, timeout: float = 60.0) -> str:
        if self._daemon is not None:
            self._daemon.check_running()
        return procs.run([tools.program("virsh"), "-q", "-c", self.uri, *args], timeout=timeout)

    def stop(self) -> None:
        """Power off every domain (libvirtd leaves QEMUs running when it exits), then stop."""
        if self._daemon is None:
            return
        # After the domains (below): stop libvirtd, then kill the QEMUs it left, each even if
        # the step before it failed.
        with contextlib.ExitStack() as then:
            then.callback(kill_leftover_qemus, self.qemu_run_dir)
            then.callback(self._daemon.stop)
            for name in self.virsh("list", "--name", "--state-running").split():
                self.virsh("destroy", name)
        self._daemon = None


def kill_leftover_qemus(qemu_run_dir: Path) -> None:
    """Kill QEMUs that libvirt's pid files still name, after checking they are that QEMU."""
    for pid_file in sorted(qemu_run_dir.glob("*.pid")):
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        guest = f"guest={pid_file.stem}".encode()
        if b"qemu" in cmdline[0] and any(arg.split(b",")[0] == guest for arg in cmdline):
            with contextlib.suppress(LabError):  # it exited on its own meanwhile
                record = procs.ProcessRecord.of(f"qemu {pid_file.stem}", pid)
                procs.stop_record(record, timeout=5.0)
