"""The machines' Redfish BMC: sushy-emulator on 127.0.0.1, driving the lab's libvirtd.

Every libvirt domain becomes a Redfish ComputerSystem at /redfish/v1/Systems/<uuid>:
power on/off and the boot device (Pxe sets <boot order='1'/> on the domain's NIC).
With credentials, the emulator asks for HTTP basic auth; the password is only ever
written, as a bcrypt hash, to a 0600 htpasswd file.
"""

import os
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt

from ironbound.lab import ports, procs

_BCRYPT_ROUNDS = 4  # the emulator checks the hash on every request; a lab needs no more


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


class RedfishBmc:
    """sushy-emulator with the libvirt driver."""

    def __init__(
        self,
        workdir: Path,
        emulator: Path,
        libvirt_uri: str,
        *,
        port: int | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.emulator = emulator
        self.libvirt_uri = libvirt_uri
        self.port = port or ports.free_tcp_port()
        self.auth = auth
        self._daemon: procs.Daemon | None = None

    @property
    def url(self) -> str:
        return f"http://{ports.LOOPBACK}:{self.port}"

    @property
    def record(self) -> procs.ProcessRecord | None:
        return None if self._daemon is None else self._daemon.record

    def _config(self) -> Path:
        """The emulator's config file (Python syntax), with the htpasswd file if any."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = ["# written by ironbound.lab.bmc"]
        if self.auth is not None:
            user, password = self.auth
            digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(_BCRYPT_ROUNDS)).decode()
            htpasswd = self.workdir / "htpasswd"
            _write_private(htpasswd, f"{user}:{digest}\n")
            lines.append(f"SUSHY_EMULATOR_AUTH_FILE = {str(htpasswd)!r}")
        config = self.workdir / "emulator.conf"
        _write_private(config, "\n".join(lines) + "\n")
        return config

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/redfish/v1/", timeout=2.0):  # noqa: S310
                return True
        except urllib.error.HTTPError:
            return True  # 401 without credentials still means it is up
        except OSError:
            return False

    def start(self) -> None:
        argv = [
            str(self.emulator),
            "--config",
            str(self._config()),
            "--interface",
            ports.LOOPBACK,
            "--port",
            str(self.port),
            "--libvirt-uri",
            self.libvirt_uri,
        ]
        self._daemon = procs.Daemon("sushy-emulator", argv, self.workdir / "sushy-emulator.log")
        procs.wait_until(self._answers, "sushy-emulator's Redfish root", 60.0, self._daemon)

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None


# virtualbmc's own BMC class (what vbmcd runs for each domain), one process a machine:
# no vbmcd master and its ZeroMQ control port, and each BMC is a PID the lab records.
# The password comes through the environment, never the command line.
_VBMC_RUNNER = """
import os, sys
from virtualbmc.vbmc import VirtualBMC
user, port, domain, uri = sys.argv[1:5]
bmc = VirtualBMC(user, os.environ.pop("IRONBOUND_VBMC_PASSWORD"), int(port), "127.0.0.1",
                 domain, uri)
bmc.listen(timeout=5)
"""


class IpmiBmc:
    """virtualbmc serving one libvirt domain over IPMI on 127.0.0.1:<free UDP port>."""

    def __init__(
        self,
        workdir: Path,
        python: Path,
        libvirt_uri: str,
        domain: str,
        auth: tuple[str, str],
        *,
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.python = python
        self.libvirt_uri = libvirt_uri
        self.domain = domain
        self.auth = auth
        self.port = port or ports.free_udp_port()
        self._daemon: procs.Daemon | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ports.LOOPBACK, self.port

    @property
    def record(self) -> procs.ProcessRecord | None:
        return None if self._daemon is None else self._daemon.record

    def _config(self) -> Path:
        """virtualbmc's config file, so that it reads and writes nothing in ~/.vbmc."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "virtualbmc.conf"
        _write_private(
            config,
            "[default]\n"
            f"config_dir = {self.workdir / 'vbmc'}\n"
            f"pid_file = {self.workdir / 'vbmcd.pid'}\n"
            "[log]\n"
            f"logfile = {self.workdir / 'virtualbmc.log'}\n"
            "debug = true\n",
        )
        return config

    def start(self) -> None:
        user, password = self.auth
        argv = [
            str(self.python),
            "-c",
            _VBMC_RUNNER,
            user,
            str(self.port),
            self.domain,
            self.libvirt_uri,
        ]
        env = {"VIRTUALBMC_CONFIG": str(self._config()), "IRONBOUND_VBMC_PASSWORD": password}
        self._daemon = procs.Daemon(
            f"virtualbmc-{self.domain}", argv, self.workdir / "virtualbmc-stdout.log", env=env
        )
        procs.wait_until(
            lambda: ports.udp_bound(self.port), f"virtualbmc for {self.domain}", 60.0, self._daemon
        )

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None
