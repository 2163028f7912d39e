"""A private network + mount namespace, held open by a sleeping process.

Everything that carries guest traffic (libvirtd, its QEMUs with slirp NICs, the inner
socat ends) runs in here: the namespace has only a loopback interface, so a guest can
reach nothing but what the lab bridges in. Mounts made here stay here.
"""

from collections.abc import Sequence
from pathlib import Path

from ironbound.lab import procs, tools
from ironbound.lab.errors import LabError


class PrivateNamespace:
    """unshare --net --mount; other processes join it with nsenter."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self._holder: procs.Daemon | None = None

    @property
    def record(self) -> procs.ProcessRecord:
        if self._holder is None:
            raise LabError("the lab namespace is not running")
        return self._holder.record

    def start(self, bind_mounts: Sequence[tuple[Path, Path]]) -> None:
        """Create the namespace, bring lo up and bind each (source, mountpoint) in order."""
        argv = [tools.program("unshare"), "--net", "--mount", "--propagation", "private"]
        self._holder = procs.Daemon(
            "netns-holder",
            [*argv, tools.program("sleep"), "infinity"],
            self.logdir / "netns.log",
        )
        own = Path("/proc/self/ns/net").readlink()
        pid = self.record.pid

        def unshared() -> bool:
            try:
                return Path(f"/proc/{pid}/ns/net").readlink() != own
            except OSError:
                return False

        procs.wait_until(unshared, "the lab network namespace", 10.0, self._holder)
        procs.run(self.enter([tools.program("ip"), "link", "set", "lo", "up"]))
        for source, mountpoint in bind_mounts:
            procs.run(
                self.enter(
                    [tools.program("mount"), "--bind", str(source), str(mountpoint)], mount=True
                )
            )

    def enter(self, argv: Sequence[str], *, mount: bool = False) -> list[str]:
        """The argv that runs a command inside the namespace (nsenter execs it: same PID)."""
        prefix = [tools.program("nsenter"), "-t", str(self.record.pid), "-n"]
        return [*prefix, *(["-m"] if mount else []), *argv]

    def stop(self) -> None:
        if self._holder is not None:
            self._holder.stop()
            self._holder = None
