"""The Lab: virtual bare metal with Redfish BMCs and an iSCSI target, started and stopped as one.

add_ipmi() gives a machine an IPMI BMC too (virtualbmc), stopped with the lab.

Start order: tgtd (host loopback), the private namespace, libvirtd in it (with the QEMU
capability probe), the socat bridges from the guests' gateway to the host, and
sushy-emulator. stop() undoes whatever started, newest first, by PID, and also after a
failed start. Guests see fixed addresses: the boot server at http://10.0.2.2:8080 and
the iSCSI portals at 10.0.2.2:3260 (and :3261 for a second, multipath portal).
forward() bridges one more port after the start (by convention 3262 for a CinderLab's
portal: CinderLab(portal_address="10.0.2.2", portal_port=GUEST_CINDER_PORTAL_PORT)).
"""

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from ironbound.lab import machines, procs, toolenv, tools
from ironbound.lab.bmc import IpmiBmc, RedfishBmc
from ironbound.lab.bridges import GATEWAY, Bridges
from ironbound.lab.errors import LabError
from ironbound.lab.libvirtd import PrivateLibvirtd
from ironbound.lab.machines import Firmware, Machine
from ironbound.lab.netns import PrivateNamespace
from ironbound.lab.state import LabState
from ironbound.lab.tgt import TgtServer

log = logging.getLogger(__name__)

GUEST_HTTP_PORT = 8080
GUEST_PORTAL_PORTS = (3260, 3261)
GUEST_CINDER_PORTAL_PORT = 3262
#: Guests' SSH is forwarded to this port and up, on the lab namespace's own loopback.
GUEST_SSH_PORT_BASE = 2200
_PROGRAMS = (
    "unshare", "nsenter", "sleep", "ip", "mount", "libvirtd", "virsh",
    "qemu-system-x86_64", "tgtd", "tgtadm", "socat",
)  # fmt: skip
_FILES = (
    "/usr/lib/ipxe/qemu/efi-e1000.rom",
    "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so",
)


class Lab:
    """A context manager owning a work dir; see the module docstring for what runs."""

    def __init__(
        self,
        workdir: Path,
        *,
        boot_server_port: int,
        redfish_port: int | None = None,
        redfish_auth: tuple[str, str] | None = None,
        second_portal: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir.resolve()
        self.boot_server_port = boot_server_port
        self.redfish_port = redfish_port
        self.redfish_auth = redfish_auth
        self.second_portal = second_portal
        self.cache_dir = cache_dir or toolenv.default_cache_dir()
        self.machines: dict[str, Machine] = {}
        self.timings: dict[str, float] = {}
        self.portals: list[str] = []
        self._stops = contextlib.ExitStack()  # each start step's undo, newest first out
        self._tgt: TgtServer | None = None
        self._libvirtd: PrivateLibvirtd | None = None
        self._bmc: RedfishBmc | None = None
        self._ipmi: dict[str, IpmiBmc] = {}
        self._bridges: Bridges | None = None
        self._state: LabState | None = None

    # -- what tests and the demo use ------------------------------------------------

    @property
    def tgt(self) -> TgtServer:
        if self._tgt is None:
            raise LabError("the lab is not started")
        return self._tgt

    @property
    def redfish_url(self) -> str:
        if self._bmc is None:
            raise LabError("the lab is not started")
        return self._bmc.url

    @property
    def libvirt_uri(self) -> str:
        return self._running_libvirtd().uri

    @property
    def boot_server_url(self) -> str:
        """The boot server as guests reach it (put this into Ironbound's http_url)."""
        return f"http://{GATEWAY}:{GUEST_HTTP_PORT}"

    @property
    def portal(self) -> str:
        """The first iSCSI portal as guests reach it, e.g. '10.0.2.2:3260'."""
        if not self.portals:
            raise LabError("the lab is not started")
        return self.portals[0]

    def forward(self, name: str, guest_port: int, host_port: int) -> str:
        """Let guests reach 127.0.0.1:host_port at 10.0.2.2:guest_port; returns the latter.

        For services started after the lab, e.g. a CinderLab's portal on guest port 3262.
        """
        if self._bridges is None:
            raise LabError("the lab is not started")
        known = set(self._bridges.records)
        try:
            return self._bridges.add(name, guest_port, host_port)
        finally:
            for record in self._bridges.records:
                if record not in known:
                    self._track(record)

    def add_machine(
        self,
        name: str,
        mac: str,
        firmware: Firmware = "bios",
        *,
        boot_url: str | None = None,
        ssh: bool = False,
    ) -> Machine:
        """Define a powered-off machine whose iPXE chains boot_url (default: /boot.ipxe).

        With `ssh`, the guest's port 22 is reachable on the lab namespace's loopback at
        `machine.ssh_port` (see `in_namespace`).
        """
        if name in self.machines:
            raise LabError(f"machine {name} already exists")
        machine = machines.new_machine(
            self.workdir / "machines" / name,
            name,
            mac,
            firmware=firmware,
            boot_url=boot_url or f"{self.boot_server_url}/boot.ipxe",
            ssh_port=GUEST_SSH_PORT_BASE + len(self.machines) if ssh else None,
        )
        machines.define(self._running_libvirtd(), machine)
        self.machines[name] = machine
        self._save()
        return machine

    def in_namespace(self, argv: list[str]) -> list[str]:
        """The argv that runs a command in the lab's network namespace, where the guests'
        forwarded ports (`Machine.ssh_port`) listen."""
        if self._bridges is None:
            raise LabError("the lab is not started")
        return self._bridges.namespace.enter(argv)

    def add_ipmi(self, machine: Machine, auth: tuple[str, str]) -> tuple[str, int]:
        """Start a virtualbmc IPMI BMC for the machine; returns its (address, UDP port).

        It listens on 127.0.0.1 only and drives the machine's domain through the lab's
        private libvirtd. It is stopped, by PID, with the lab.
        """
        if machine.name in self._ipmi:
            raise LabError(f"machine {machine.name} already has an IPMI BMC")
        libvirtd = self._running_libvirtd()
        with self._phase(f"virtualbmc {machine.name}"):
            python = toolenv.virtualbmc_python(self.cache_dir)
            bmc = IpmiBmc(
                self.workdir / "ipmi" / machine.name, python, libvirtd.uri, machine.name, auth
            )
            self._stops.callback(bmc.stop)
            try:
                bmc.start()
            finally:
                self._track(bmc.record)
        self._ipmi[machine.name] = bmc
        self._save()
        return bmc.address

    def facts(self) -> dict[str, object]:
        """Everything a client needs, as JSON-able data (no passwords)."""
        return {
            "workdir": str(self.workdir),
            "redfish_url": self.redfish_url,
            "redfish_username": None if self.redfish_auth is None else self.redfish_auth[0],
            "boot_server_url": self.boot_server_url,
            "boot_server_host_port": self.boot_server_port,
            "portals": self.portals,
            "host_portals": self.tgt.host_portals,
            "tgt_control_port": self.tgt.control_port,
            "libvirt_uri": self.libvirt_uri,
            "machines": [machine.to_json() for machine in self.machines.values()],
            "ipmi": {name: list(bmc.address) for name, bmc in self._ipmi.items()},
            "start_timings_s": self.timings,
        }

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        tools.require_root()
        for name in _PROGRAMS:
            tools.program(name)
        for path in _FILES:
            tools.file(path)
        previous = LabState.load(self.workdir)
        if previous is not None and (previous.owner.alive() or previous.running()):
            raise LabError(
                f"a lab is already running in {self.workdir} (owner pid {previous.owner.pid}): "
                f"run `ironbound lab down {self.workdir}` first"
            )
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self._state = LabState(owner=procs.ProcessRecord.of("lab", os.getpid()))
        started = time.monotonic()
        try:
            self._start_pieces(self._state)
        except BaseException:
            self._stop_all()  # its own errors are logged; the start failure is what matters
            raise
        self.timings["total"] = round(time.monotonic() - started, 2)
        self._save()
        return self

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.timings[name] = round(time.monotonic() - started, 2)
        log.info("lab: %s ready after %.1f s", name, self.timings[name])

    def _track(self, record: procs.ProcessRecord | None) -> None:
        if record is not None and self._state is not None:
            self._state.processes.append(record)
            self._save()

    def _start_pieces(self, state: LabState) -> None:
        logs = self.workdir / "logs"
        with self._phase("tgtd"):
            tgt = self._tgt = TgtServer(self.workdir / "tgt", second_portal=self.second_portal)
            self._stops.callback(tgt.stop)
            tgt.start()
            self._track(tgt.record)
            state.tgt_control_port = tgt.control_port
        with self._phase("libvirtd"):
            namespace = PrivateNamespace(logs)
            libvirtd = PrivateLibvirtd(self.workdir / "libvirt", self.cache_dir / "libvirt", logs)
            binds = libvirtd.prepare()
            self._stops.callback(namespace.stop)
            namespace.start(binds)
            self._track(namespace.record)
            state.libvirt_uri = libvirtd.uri
            state.qemu_run_dir = str(libvirtd.qemu_run_dir)
            self._stops.callback(libvirtd.stop)
            self._libvirtd = libvirtd
            libvirtd.start(namespace)
            self._track(libvirtd.record)
        with self._phase("bridges"):
            bridges = self._bridges = Bridges(self.workdir / "sockets", logs, namespace)
            self._stops.callback(bridges.stop)
            try:
                bridges.add("http", GUEST_HTTP_PORT, self.boot_server_port)
                for index, port in enumerate(tgt.portal_ports):
                    self.portals.append(
                        bridges.add(f"iscsi{index}", GUEST_PORTAL_PORTS[index], port)
                    )
            finally:
                for record in bridges.records:
                    self._track(record)
        with self._phase("sushy-emulator"):
            emulator = toolenv.sushy_emulator(self.cache_dir)
            bmc = self._bmc = RedfishBmc(
                self.workdir / "bmc",
                emulator,
                libvirtd.uri,
                port=self.redfish_port,
                auth=self.redfish_auth,
            )
            self._stops.callback(bmc.stop)
            try:
                bmc.start()
            finally:
                self._track(bmc.record)

    def _running_libvirtd(self) -> PrivateLibvirtd:
        if self._libvirtd is None:
            raise LabError("the lab is not started")
        return self._libvirtd

    def _save(self) -> None:
        if self._state is None:
            return
        with contextlib.suppress(LabError):  # facts are partial while starting
            self._state.facts = self.facts()
        self._state.save(self.workdir)

    def stop(self) -> None:
        """Stop everything that started, newest first; raise at the end if a step failed."""
        error = self._stop_all()
        if error is not None:
            raise LabError(f"the lab did not stop cleanly: {error}") from error

    def _stop_all(self) -> Exception | None:
        """Run every stop step, even after one fails; the error is the last failure."""
        stops, self._stops = self._stops, contextlib.ExitStack()
        error: Exception | None = None
        try:
            stops.close()
        except Exception as exc:  # earlier failures are chained to it as its __context__
            log.exception("lab: stopping failed")
            error = exc
        self._tgt = self._libvirtd = self._bmc = None
        self._bridges = None
        self._ipmi = {}
        self.portals = []
        if self._state is not None:
            self._state.processes = []
            self._state.save(self.workdir)
            self._state = None
        return error
